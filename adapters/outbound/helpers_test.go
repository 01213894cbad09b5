package outbound_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// loopback is the allowlist tests use to reach their own servers.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// testConfig allows loopback and keeps retry waits short.
func testConfig() outbound.Config {
	return outbound.Config{
		Allow: loopback,
		Retry: outbound.RetryConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newClient(t testing.TB, cfg outbound.Config) *outbound.Client {
	t.Helper()
	c, err := outbound.New(cfg, testLogger(t), nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func newHTTPBin(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpbin.New())
	t.Cleanup(srv.Close)
	return srv
}

// seenRequest is what a recorder kept of one request.
type seenRequest struct {
	Method string
	URL    string
	Header http.Header
	Body   string
}

// recorder keeps every request it receives, then lets next answer (or
// answers 200 when next is nil).
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
	next http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.seen = append(r.seen, seenRequest{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: string(body)})
	r.mu.Unlock()
	if r.next != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.next.ServeHTTP(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (r *recorder) requests() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.seen...)
}

// flaky answers its first failures requests with status (and the headers
// from header, evaluated per request), then hands over to next.
type flaky struct {
	mu       sync.Mutex
	calls    int
	failures int
	status   int
	header   func() http.Header
	next     http.Handler
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.failures
	f.mu.Unlock()
	if !fail {
		f.next.ServeHTTP(w, r)
		return
	}
	if f.header != nil {
		for k, vs := range f.header() {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(f.status)
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// echo is the part of go-httpbin's /anything answer the tests read.
type echo struct {
	Headers http.Header `json:"headers"`
	Args    map[string][]string
	Data    string `json:"data"`
	URL     string `json:"url"`
}

func decodeEcho(t *testing.T, body []byte) echo {
	t.Helper()
	var e echo
	require.NoError(t, json.Unmarshal(body, &e), "body: %s", body)
	return e
}
