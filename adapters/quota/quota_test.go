package quota

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestConsumeWithinLimitsPerTenantAndWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 59, 0, 0, time.UTC)}
	s, err := NewStore(pgtest.NewPool(t), Limits{ExecutionsPerHour: 3, LLMTokensPerDay: 1000}, clk.now)
	require.NoError(t, err)

	for i := int64(1); i <= 3; i++ {
		u, err := s.Consume(ctx, "t1", Executions, 1)
		require.NoError(t, err)
		assert.Equal(t, Usage{Limit: 3, Used: i, Remaining: 3 - i, Reset: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}, u)
	}
	u, err := s.Consume(ctx, "t1", Executions, 1)
	var exceeded *ExceededError
	require.ErrorAs(t, err, &exceeded)
	assert.ErrorIs(t, err, ErrExceeded)
	assert.Equal(t, Executions, exceeded.Kind)
	assert.Equal(t, int64(3), u.Used)
	assert.Equal(t, int64(0), u.Remaining)

	_, err = s.Consume(ctx, "t2", Executions, 1)
	assert.NoError(t, err, "each tenant has its own counter")

	_, err = s.Consume(ctx, "t1", LLMTokens, 900)
	require.NoError(t, err)
	u, err = s.Consume(ctx, "t1", LLMTokens, 200)
	require.ErrorIs(t, err, ErrExceeded, "a consumption that would pass the limit is refused whole")
	assert.Equal(t, int64(900), u.Used)
	u, err = s.Consume(ctx, "t1", LLMTokens, 100)
	require.NoError(t, err)
	assert.Equal(t, int64(0), u.Remaining)
	_, err = s.Consume(ctx, "t1", LLMTokens, 5000)
	assert.ErrorIs(t, err, ErrExceeded)

	u, err = s.Consume(ctx, "t1", APICalls, 1_000_000)
	require.NoError(t, err, "no limit configured")
	assert.Equal(t, int64(0), u.Limit)
	assert.False(t, s.Limited(APICalls))
	assert.True(t, s.Limited(Executions))

	clk.set(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	u, err = s.Consume(ctx, "t1", Executions, 1)
	require.NoError(t, err, "a new hour, a new window")
	assert.Equal(t, int64(1), u.Used)
	_, err = s.Consume(ctx, "t1", LLMTokens, 1)
	assert.ErrorIs(t, err, ErrExceeded, "the daily window has not ended")

	_, err = s.Consume(ctx, "t1", Kind("bogus"), 1)
	assert.ErrorContains(t, err, "unknown kind")
	_, err = s.Consume(ctx, "t1", Executions, -1)
	assert.ErrorContains(t, err, "negative")

	clk.set(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC))
	pruned, err := s.Prune(ctx, clk.now())
	require.NoError(t, err)
	assert.Equal(t, int64(4), pruned, "every stored counter of past windows (unlimited kinds store none)")
}

// TestConcurrentConsumersNeverPassTheLimit consumes from two stores (two
// processes) at once: exactly the limit is granted.
func TestConcurrentConsumersNeverPassTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	const limit = 25
	var stores [2]*Store
	for i := range stores {
		var err error
		stores[i], err = NewStore(pool, Limits{APICallsPerHour: limit}, nil)
		require.NoError(t, err)
	}
	var granted, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for range 10 {
				_, err := stores[w%2].Consume(ctx, "tenant", APICalls, 1)
				switch {
				case err == nil:
					granted.Add(1)
				case errors.Is(err, ErrExceeded):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(limit), granted.Load())
	assert.Equal(t, int64(80-limit), refused.Load())
}

func TestChargeRecordsWhatWasSpent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	s, err := NewStore(pgtest.NewPool(t), Limits{LLMTokensPerDay: 1000}, clk.now)
	require.NoError(t, err)
	tests := []struct {
		name     string
		charge   int64
		wantUsed int64
		wantLeft int64
	}{
		{"within the limit", 600, 600, 400},
		{"nothing spent", 0, 600, 400},
		{"past the limit: counted all the same", 700, 1300, 0},
	}
	for _, tc := range tests {
		u, err := s.Charge(ctx, "t1", LLMTokens, tc.charge)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.wantUsed, u.Used, tc.name)
		assert.Equal(t, tc.wantLeft, u.Remaining, tc.name)
	}
	_, err = s.Consume(ctx, "t1", LLMTokens, 1)
	assert.ErrorIs(t, err, ErrExceeded, "the next request is refused until the window ends")
	clk.set(clk.now().Add(24 * time.Hour))
	_, err = s.Consume(ctx, "t1", LLMTokens, 1)
	assert.NoError(t, err, "a new day")
	_, err = s.Charge(ctx, "t1", LLMTokens, -1)
	assert.Error(t, err)
	u, err := s.Charge(ctx, "t1", APICalls, 5)
	require.NoError(t, err)
	assert.Zero(t, u.Used, "an unlimited quota counts nothing")
}

func TestNewStoreValidates(t *testing.T) {
	t.Parallel()
	_, err := NewStore(nil, Limits{ExecutionsPerHour: -1}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pool is required")
	assert.Contains(t, err.Error(), "ExecutionsPerHour must not be negative")
}
