package credentials

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func TestLockSerialisesHoldersOfOneName(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	// Two Managers are two processes: each has its own sessions.
	a := &Manager{cfg: Config{DB: pool, Logger: slog.New(slog.DiscardHandler)}}
	b := &Manager{cfg: Config{DB: pool, Logger: slog.New(slog.DiscardHandler)}}
	ctx := context.Background()

	unlockA, err := a.lock(ctx, "refresh/t/c1")
	require.NoError(t, err)

	var acquired atomic.Bool
	done := make(chan func())
	go func() {
		unlock, err := b.lock(ctx, "refresh/t/c1")
		assert.NoError(t, err)
		acquired.Store(true)
		done <- unlock
	}()

	unlockOther, err := b.lock(ctx, "refresh/t/c2")
	require.NoError(t, err, "another name is not blocked")
	unlockOther()

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = a.lock(short, "refresh/t/c1")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a waiter gives up with its context")

	time.Sleep(100 * time.Millisecond)
	assert.False(t, acquired.Load(), "the second holder waits while the first holds the lock")
	unlockA()
	select {
	case unlockB := <-done:
		assert.True(t, acquired.Load())
		unlockB()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter never got the lock")
	}

	var held int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held))
	assert.Zero(t, held, "every lock was released and no session left one behind")
}
