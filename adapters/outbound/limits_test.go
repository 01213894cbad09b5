package outbound_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

func newRecorderServer(t testing.TB, r *recorder) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	target := &recorder{}
	srv := newRecorderServer(t, target)
	cfg := testConfig()
	cfg.RateLimit = outbound.RateLimitConfig{PerSecond: 4, Burst: 1} // one token every 250 ms
	client := newClient(t, cfg)
	ctx := context.Background()

	_, err := client.Do(ctx, outbound.Request{URL: srv, Key: "conn-a"})
	require.NoError(t, err, "the burst token")

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	started := time.Now()
	_, err = client.Do(short, outbound.Request{URL: srv, Key: "conn-a"})
	assert.ErrorIs(t, err, outbound.ErrRateLimited)
	assert.Less(t, time.Since(started), 40*time.Millisecond, "refused at once, not after waiting out the deadline")

	_, err = client.Do(ctx, outbound.Request{URL: srv, Key: "conn-b"})
	assert.NoError(t, err, "another key has its own bucket")

	started = time.Now()
	_, err = client.Do(ctx, outbound.Request{URL: srv, Key: "conn-a"})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(started), 100*time.Millisecond, "waited for the next token")

	assert.Len(t, target.requests(), 3, "the refused call never reached the server")
}

// switchable answers 500 while failing is set, else 200.
type switchable struct {
	failing atomic.Bool
	calls   atomic.Int32
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.calls.Add(1)
	if s.failing.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestCircuitBreakerOpensAndHalfOpens(t *testing.T) {
	t.Parallel()
	target := &switchable{}
	srv := httptest.NewServer(target)
	t.Cleanup(srv.Close)
	cfg := testConfig()
	cfg.Retry.MaxAttempts = 1
	cfg.Breaker = outbound.BreakerConfig{ConsecutiveFailures: 2, OpenTimeout: 300 * time.Millisecond}
	client := newClient(t, cfg)
	ctx := context.Background()
	call := func(key string) (*outbound.Result, error) {
		return client.Do(ctx, outbound.Request{URL: srv.URL, Key: key})
	}

	target.failing.Store(true)
	for range 2 {
		res, err := call("conn-a")
		require.NoError(t, err)
		assert.Equal(t, 500, res.Status)
	}
	assert.Equal(t, outbound.BreakerOpen, client.BreakerState("conn-a"))
	_, err := call("conn-a")
	assert.ErrorIs(t, err, outbound.ErrCircuitOpen)
	assert.Equal(t, int32(2), target.calls.Load(), "an open breaker does not call")
	assert.Equal(t, outbound.BreakerClosed, client.BreakerState("conn-b"), "other keys are unaffected")

	time.Sleep(350 * time.Millisecond)
	assert.Equal(t, outbound.BreakerHalfOpen, client.BreakerState("conn-a"))
	res, err := call("conn-a")
	require.NoError(t, err, "the half-open probe goes through")
	assert.Equal(t, 500, res.Status)
	assert.Equal(t, outbound.BreakerOpen, client.BreakerState("conn-a"), "a failed probe opens it again")

	time.Sleep(350 * time.Millisecond)
	target.failing.Store(false)
	res, err = call("conn-a")
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	assert.Equal(t, outbound.BreakerClosed, client.BreakerState("conn-a"), "a good probe closes it")
	assert.Equal(t, int32(4), target.calls.Load())
}

func TestBreakerIgnoresLocalRefusals(t *testing.T) {
	t.Parallel()
	cfg := outbound.Config{Breaker: outbound.BreakerConfig{ConsecutiveFailures: 2}}
	client := newClient(t, cfg)
	for range 5 {
		_, err := client.Do(context.Background(), outbound.Request{URL: "http://10.0.0.1/", Key: "conn-x"})
		require.ErrorIs(t, err, outbound.ErrBlockedAddress)
	}
	assert.Equal(t, outbound.BreakerClosed, client.BreakerState("conn-x"), "a blocked address says nothing about the remote")
}

func TestForgetDropsKeyState(t *testing.T) {
	t.Parallel()
	target := &switchable{}
	target.failing.Store(true)
	srv := httptest.NewServer(target)
	t.Cleanup(srv.Close)
	cfg := testConfig()
	cfg.Retry.MaxAttempts = 1
	cfg.Breaker = outbound.BreakerConfig{ConsecutiveFailures: 1}
	client := newClient(t, cfg)

	_, err := client.Do(context.Background(), outbound.Request{URL: srv.URL, Key: "conn-gone"})
	require.NoError(t, err)
	require.Equal(t, outbound.BreakerOpen, client.BreakerState("conn-gone"))
	client.Forget("conn-gone")
	assert.Equal(t, outbound.BreakerClosed, client.BreakerState("conn-gone"))
}
