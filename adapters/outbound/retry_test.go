package outbound_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// flakyBin fronts a go-httpbin with a handler that fails the first
// failures requests with status.
func flakyBin(t *testing.T, failures, status int, header func() http.Header) (*flaky, *httptest.Server) {
	t.Helper()
	f := &flaky{failures: failures, status: status, header: header, next: httpbin.New()}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestRetriesTransientStatusesThenSucceeds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		status   int
		retry500 bool
		attempts int
		final    int
	}{
		{"503 retried", http.StatusServiceUnavailable, false, 3, 200},
		{"502 retried", http.StatusBadGateway, false, 3, 200},
		{"504 retried", http.StatusGatewayTimeout, false, 3, 200},
		{"429 without Retry-After retried", http.StatusTooManyRequests, false, 3, 200},
		{"500 not retried by default", http.StatusInternalServerError, false, 1, 500},
		{"500 retried when configured", http.StatusInternalServerError, true, 3, 200},
		{"404 never retried", http.StatusNotFound, true, 1, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := flakyBin(t, 2, tc.status, nil)
			cfg := testConfig()
			cfg.Retry.RetryInternalServerError = tc.retry500
			client := newClient(t, cfg)

			res, err := client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get"})
			require.NoError(t, err)
			assert.Equal(t, tc.final, res.Status)
			require.Len(t, res.Attempts, tc.attempts)
			assert.Equal(t, tc.attempts, f.count())
			assert.Equal(t, tc.status, res.Attempts[0].Status)
			for _, a := range res.Attempts[:len(res.Attempts)-1] {
				assert.LessOrEqual(t, a.Wait, cfg.Retry.MaxDelay, "full jitter stays under the cap")
			}
		})
	}
}

func TestRetriesExhaustedReturnLastResponse(t *testing.T) {
	t.Parallel()
	f, srv := flakyBin(t, 100, http.StatusServiceUnavailable, nil)
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get"})
	require.NoError(t, err, "a response came: the status tells the story")
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Len(t, res.Attempts, 3)
	assert.Equal(t, 3, f.count())
}

func TestRequestMaxAttemptsLowersTheRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		maxAttempts int
		want        int
	}{
		{"zero keeps the configured attempts", 0, 3},
		{"one makes a single attempt", 1, 1},
		{"two", 2, 2},
		{"more than configured stays at the configured", 9, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := flakyBin(t, 100, http.StatusServiceUnavailable, func() http.Header {
				return http.Header{"Retry-After": {"0"}}
			})
			client := newClient(t, testConfig())
			res, err := client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get", MaxAttempts: tc.maxAttempts})
			require.NoError(t, err)
			assert.Equal(t, http.StatusServiceUnavailable, res.Status)
			assert.Len(t, res.Attempts, tc.want)
			assert.Equal(t, tc.want, f.count())
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		header   func() http.Header
		min, max time.Duration
	}{
		{
			name:   "seconds",
			header: func() http.Header { return http.Header{"Retry-After": {"1"}} },
			min:    time.Second, max: time.Second,
		},
		{
			// An HTTP-date has whole seconds: "two seconds from now" is
			// between one and two seconds away by the time it is read.
			name: "http date",
			header: func() http.Header {
				return http.Header{"Retry-After": {time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}}
			},
			min: 900 * time.Millisecond, max: 2 * time.Second,
		},
		{
			name:   "date in the past means now",
			header: func() http.Header { return http.Header{"Retry-After": {"Mon, 02 Jan 2006 15:04:05 GMT"}} },
			min:    0, max: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := flakyBin(t, 1, http.StatusTooManyRequests, tc.header)
			client := newClient(t, testConfig())

			started := time.Now()
			res, err := client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get"})
			elapsed := time.Since(started)
			require.NoError(t, err)
			assert.Equal(t, 200, res.Status)
			require.Len(t, res.Attempts, 2)
			assert.Equal(t, 2, f.count())
			wait := res.Attempts[0].Wait
			assert.GreaterOrEqual(t, wait, tc.min)
			assert.LessOrEqual(t, wait, tc.max)
			assert.GreaterOrEqual(t, elapsed, tc.min, "the caller really waited")
			assert.Less(t, elapsed, tc.max+time.Second, "and not much longer")
		})
	}
}

func TestRetryAfterBeyondCapReturnsAtOnce(t *testing.T) {
	t.Parallel()
	f, srv := flakyBin(t, 1, http.StatusServiceUnavailable, func() http.Header {
		return http.Header{"Retry-After": {"3600"}}
	})
	client := newClient(t, testConfig())

	started := time.Now()
	res, err := client.Do(context.Background(), outbound.Request{URL: srv.URL + "/get"})
	require.NoError(t, err)
	assert.Less(t, time.Since(started), time.Second)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, time.Hour, res.RetryAfter, "the engine can schedule the retry itself")
	assert.Len(t, res.Attempts, 1)
	assert.Equal(t, 1, f.count())
}

func TestNonIdempotentRequestsAreNotRepeated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		req      outbound.Request
		attempts int
	}{
		{"POST", outbound.Request{Method: http.MethodPost}, 1},
		{"PATCH", outbound.Request{Method: http.MethodPatch}, 1},
		{"PUT marked non-idempotent", outbound.Request{Method: http.MethodPut, NonIdempotent: true}, 1},
		{"PUT", outbound.Request{Method: http.MethodPut}, 3},
		{"DELETE", outbound.Request{Method: http.MethodDelete}, 3},
		{"POST with idempotency key", outbound.Request{Method: http.MethodPost, IdempotencyKey: "key-1"}, 3},
		{"PATCH with custom key header", outbound.Request{Method: http.MethodPatch, IdempotencyKey: "key-2", IdempotencyHeader: "X-Request-Id"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			f := &flaky{failures: 2, status: http.StatusServiceUnavailable, next: httpbin.New()}
			rec.next = f
			srv := httptest.NewServer(rec)
			t.Cleanup(srv.Close)
			client := newClient(t, testConfig())

			req := tc.req
			req.URL = srv.URL + "/anything/orders"
			req.Header = http.Header{"Content-Type": {"application/json"}}
			req.Body = strings.NewReader(`{"qty":2}`)
			res, err := client.Do(context.Background(), req)
			require.NoError(t, err)
			assert.Len(t, res.Attempts, tc.attempts)
			seen := rec.requests()
			require.Len(t, seen, tc.attempts)
			header := req.IdempotencyHeader
			if header == "" {
				header = outbound.DefaultIdempotencyHeader
			}
			for i, s := range seen {
				assert.Equal(t, `{"qty":2}`, s.Body, "attempt %d resends the buffered body", i+1)
				assert.Equal(t, req.IdempotencyKey, s.Header.Get(header), "attempt %d carries the same key", i+1)
			}
			if tc.attempts == 3 {
				assert.Equal(t, 200, res.Status)
				assert.JSONEq(t, `{"qty":2}`, decodeEcho(t, res.Body).Data)
			} else {
				assert.Equal(t, http.StatusServiceUnavailable, res.Status)
			}
		})
	}
}

func TestNetworkErrorsRetriedOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/"
	require.NoError(t, ln.Close())
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), outbound.Request{URL: closed})
	require.Error(t, err)
	assert.Len(t, res.Attempts, 3)
	for _, a := range res.Attempts {
		assert.Error(t, a.Err)
		assert.Zero(t, a.Status)
	}

	res, err = client.Do(context.Background(), outbound.Request{Method: http.MethodPost, URL: closed})
	require.Error(t, err)
	assert.Len(t, res.Attempts, 1)
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	cases := []struct {
		name     string
		cfg      func(*outbound.Config)
		attempts int
		within   time.Duration
	}{
		{
			name:     "attempt timeout, no retries",
			cfg:      func(c *outbound.Config) { c.AttemptTimeout = 200 * time.Millisecond; c.Retry.MaxAttempts = 1 },
			attempts: 1, within: 800 * time.Millisecond,
		},
		{
			name:     "response header timeout, retried",
			cfg:      func(c *outbound.Config) { c.ResponseHeaderTimeout = 100 * time.Millisecond },
			attempts: 3, within: 1500 * time.Millisecond,
		},
		{
			name: "overall timeout cuts retries short",
			cfg: func(c *outbound.Config) {
				c.Timeout = 500 * time.Millisecond
				c.AttemptTimeout = 300 * time.Millisecond
				c.Retry.MaxAttempts = 10
			},
			attempts: 2, within: 1200 * time.Millisecond,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			tc.cfg(&cfg)
			client := newClient(t, cfg)

			started := time.Now()
			res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/delay/3"})
			assert.ErrorIs(t, err, outbound.ErrTimeout)
			assert.Less(t, time.Since(started), tc.within)
			require.NotNil(t, res)
			assert.Len(t, res.Attempts, tc.attempts)
		})
	}
}

func TestCallerCancellationIsNotATimeout(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res, err := client.Do(ctx, outbound.Request{URL: bin.URL + "/delay/3"})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, errors.Is(err, outbound.ErrTimeout))
	assert.Len(t, res.Attempts, 1, "a cancelled call is not retried")
}

func TestRetryAfterHeaderOnRealHTTPBin(t *testing.T) {
	t.Parallel()
	// go-httpbin's /response-headers sets any header; with a 200 status the
	// header is informational and must not cause a retry.
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())
	res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/response-headers?Retry-After=" + strconv.Itoa(5)})
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	assert.Equal(t, "5", res.Header.Get("Retry-After"))
	assert.Len(t, res.Attempts, 1)
}

func TestRetryAfterReportedWhenNotWaited(t *testing.T) {
	t.Parallel()
	f, srv := flakyBin(t, 1, http.StatusTooManyRequests, func() http.Header {
		return http.Header{"Retry-After": {"7"}}
	})
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), outbound.Request{Method: http.MethodPost, URL: srv.URL + "/post"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, res.Status)
	assert.Equal(t, 7*time.Second, res.RetryAfter, "a POST is not retried, but the scheduler learns when it may be")
	assert.Equal(t, 1, f.count())
}
