package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func oneEvent(stream string, i int) []eventstore.EventData {
	return []eventstore.EventData{{
		ID:       eventstore.EventID("t", stream, fmt.Sprint(i), 0),
		Type:     "Announced",
		Metadata: eventstore.Metadata{TenantID: "t"},
	}}
}

// TestListenWakesReadersOfAnotherProcess plays two processes: two stores on
// two pools of one database, one appending and notifying, one listening.
func TestListenWakesReadersOfAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := pgtest.NewDatabase(t)
	open := func() *pgstore.Store {
		pool, err := postgres.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		store, err := pgstore.New(pool)
		require.NoError(t, err)
		return store
	}
	writer, reader := open(), open()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	defer func() {
		stop()
		assert.NoError(t, <-done, "notifier stops cleanly")
		assert.NoError(t, <-done, "listener stops cleanly")
	}()
	go func() { done <- writer.RunNotifier(runCtx) }()

	wake := reader.Wake(ctx)
	go func() { done <- reader.Listen(runCtx) }()
	select {
	case <-wake: // the listener wakes readers once connected: it may have missed announcements
	case <-ctx.Done():
		t.Fatal("listener never connected")
	}

	for i := range 3 {
		stream := fmt.Sprintf("remote-%d", i)
		_, err := writer.Append(ctx, stream, eventstore.NoStream, oneEvent(stream, i))
		require.NoError(t, err)
		select {
		case <-wake:
		case <-ctx.Done():
			t.Fatalf("append %d: the other process's reader was not woken", i)
		}
		got, err := reader.ReadStream(ctx, stream, 0, 0)
		require.NoError(t, err)
		assert.Len(t, got, 1)
	}
}

// TestNotifierDebounces counts the NOTIFYs a burst of appends causes: at
// most one per interval, and at least one.
func TestNotifierDebounces(t *testing.T) {
	t.Parallel()
	const interval = 40 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store, err := pgstore.NewWithConfig(pool, pgstore.Config{NotifyChannel: "debounce_test", NotifyInterval: interval})
	require.NoError(t, err)

	listener, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer listener.Close(context.Background())
	_, err = listener.Exec(ctx, "LISTEN debounce_test")
	require.NoError(t, err)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- store.RunNotifier(runCtx) }()

	const appends = 150
	began := time.Now()
	for i := range appends {
		stream := fmt.Sprintf("burst-%d", i)
		_, err := store.Append(ctx, stream, eventstore.NoStream, oneEvent(stream, i))
		require.NoError(t, err)
	}
	elapsed := time.Since(began)
	time.Sleep(3 * interval) // let the last announcement go out
	stop()
	require.NoError(t, <-done)

	notifications := 0
	for {
		waitCtx, cancelWait := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := listener.WaitForNotification(waitCtx)
		cancelWait()
		if err != nil {
			break
		}
		notifications++
	}
	limit := int(elapsed/interval) + 2
	t.Logf("%d appends in %s caused %d notifications (limit %d)", appends, elapsed, notifications, limit)
	assert.GreaterOrEqual(t, notifications, 1)
	assert.LessOrEqual(t, notifications, limit)
	assert.Less(t, notifications, appends, "appends share notifications")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     pgstore.Config
		wantErr []string
	}{
		{"defaults", pgstore.Config{}, nil},
		{"negative interval and long channel", pgstore.Config{
			NotifyChannel: string(make([]byte, 64)), NotifyInterval: -time.Second}, []string{"notify channel", "notify interval"}},
	}
	pool := pgtest.NewPool(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pgstore.NewWithConfig(pool, c.cfg)
			if c.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range c.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}
