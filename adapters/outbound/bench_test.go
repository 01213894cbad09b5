package outbound_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// BenchmarkCallerOverhead alternates GET /get on a local go-httpbin through
// a plain net/http client and through the outbound caller (guards, limiter
// and breaker on the path; rate limit off so it never waits), and reports
// each one's time per request and their ratio.
func BenchmarkCallerOverhead(b *testing.B) {
	bin := newHTTPBin(b)
	target := bin.URL + "/get"
	plain := &http.Client{Transport: &http.Transport{}}
	b.Cleanup(plain.CloseIdleConnections)
	cfg := testConfig()
	cfg.RateLimit.Unlimited = true
	caller, err := outbound.New(cfg, slog.New(slog.DiscardHandler), nil)
	require.NoError(b, err)
	b.Cleanup(caller.Close)
	ctx := context.Background()

	var plainTime, callerTime time.Duration
	for b.Loop() {
		started := time.Now()
		resp, err := plain.Get(target)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		plainTime += time.Since(started)

		started = time.Now()
		res, err := caller.Do(ctx, outbound.Request{URL: target, Key: "bench"})
		if err != nil || res.Status != http.StatusOK {
			b.Fatalf("caller: %v (status %d)", err, res.Status)
		}
		callerTime += time.Since(started)
	}
	n := float64(b.N)
	b.ReportMetric(float64(plainTime.Nanoseconds())/n, "plain-ns/req")
	b.ReportMetric(float64(callerTime.Nanoseconds())/n, "caller-ns/req")
	b.ReportMetric(float64(callerTime)/float64(plainTime), "overhead-ratio")
}
