package testservers

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

//go:embed httpbin.openapi.json
var httpbinOpenAPI []byte

// HTTPBin names: where the document's API key schemes expect the key.
const (
	// HTTPBinAPIKeyHeader is the header of the document's apiKeyHeader scheme.
	HTTPBinAPIKeyHeader = "X-API-Key"
	// HTTPBinAPIKeyParam is the query parameter of apiKeyQuery and the cookie of apiKeyCookie.
	HTTPBinAPIKeyParam = "api_key"
)

// HTTPBinOpenAPI returns the OpenAPI document written for the go-httpbin
// endpoints APIQ's tests use, with a placeholder server URL.
func HTTPBinOpenAPI() []byte {
	return append([]byte(nil), httpbinOpenAPI...)
}

// HTTPBin is an in-process go-httpbin with what the real one lacks for APIQ's
// tests: a Retry-After header on 429 answers, an optional API key check on
// the operations its document secures with one, its OpenAPI document at
// /openapi.json, and a record of the requests it received.
type HTTPBin struct {
	*httptest.Server

	document []byte
	cfg      httpbinConfig
	next     http.Handler

	mu       sync.Mutex
	requests []RecordedRequest
}

// RecordedRequest is one request an HTTPBin received.
type RecordedRequest struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
}

// HTTPBinOption configures StartHTTPBin.
type HTTPBinOption func(*httpbinConfig)

type httpbinConfig struct {
	retryAfter func(now time.Time) string
	apiKey     string
}

// HTTPBinRetryAfterSeconds makes 429 answers carry "Retry-After: n" (the
// default is 1 second).
func HTTPBinRetryAfterSeconds(n int) HTTPBinOption {
	return func(c *httpbinConfig) {
		c.retryAfter = func(time.Time) string { return strconv.Itoa(n) }
	}
}

// HTTPBinRetryAfterDate makes 429 answers carry Retry-After as the HTTP-date
// the given time from now.
func HTTPBinRetryAfterDate(after time.Duration) HTTPBinOption {
	return func(c *httpbinConfig) {
		c.retryAfter = func(now time.Time) string { return now.Add(after).UTC().Format(http.TimeFormat) }
	}
}

// HTTPBinAPIKey makes the operations the document secures with an API key
// (/headers and /anything/{anything}) answer 401 unless the request carries
// key in the X-API-Key header, the api_key query parameter or the api_key
// cookie. Without it they accept any request, as go-httpbin does.
func HTTPBinAPIKey(key string) HTTPBinOption {
	return func(c *httpbinConfig) { c.apiKey = key }
}

// StartHTTPBin starts an HTTPBin on a free 127.0.0.1 port and closes it when
// the test ends.
func StartHTTPBin(tb testing.TB, opts ...HTTPBinOption) *HTTPBin {
	tb.Helper()
	cfg := httpbinConfig{retryAfter: func(time.Time) string { return "1" }}
	for _, opt := range opts {
		opt(&cfg)
	}
	h := &HTTPBin{cfg: cfg, next: httpbin.New().Handler()}
	h.Server = httptest.NewServer(h)
	tb.Cleanup(func() {
		h.CloseClientConnections()
		h.Close()
	})
	doc, err := serveDocument(httpbinOpenAPI, h.URL, nil)
	if err != nil {
		tb.Fatalf("testservers: httpbin: %v", err)
	}
	h.document = doc
	return h
}

// OpenAPIURL is where the server serves its OpenAPI document.
func (h *HTTPBin) OpenAPIURL() string { return h.URL + "/openapi.json" }

// OpenAPIDocument returns the document served at OpenAPIURL: the HTTPBin
// document with this server as its only server.
func (h *HTTPBin) OpenAPIDocument() []byte { return append([]byte(nil), h.document...) }

// Requests returns the requests received so far, oldest first (requests for
// the OpenAPI document are not recorded).
func (h *HTTPBin) Requests() []RecordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]RecordedRequest(nil), h.requests...)
}

// RequestCount counts the requests received so far with this method and path.
func (h *HTTPBin) RequestCount(method, path string) int {
	n := 0
	for _, r := range h.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// ServeHTTP serves the document, records the request, checks the API key
// where configured and hands the rest to go-httpbin.
func (h *HTTPBin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/openapi.json" && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.document)
		return
	}
	h.record(r)
	if h.cfg.apiKey != "" && securedByAPIKey(r.URL.Path) && !h.hasAPIKey(r) {
		writeHTTPBinError(w, http.StatusUnauthorized, "missing or wrong API key")
		return
	}
	h.next.ServeHTTP(&retryAfterWriter{ResponseWriter: w, value: h.retryAfterFor(r)}, r)
}

func (h *HTTPBin) record(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, RecordedRequest{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
	})
}

// retryAfterFor returns the Retry-After value of a 429 to this request: the
// request's retry_after (seconds) or retry_after_date (seconds from now, as an
// HTTP-date) query parameter, else the configured one.
func (h *HTTPBin) retryAfterFor(r *http.Request) func() string {
	q := r.URL.Query()
	if v := q.Get("retry_after"); v != "" {
		return func() string { return v }
	}
	if v := q.Get("retry_after_date"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			return func() string { return time.Now().Add(time.Duration(secs) * time.Second).UTC().Format(http.TimeFormat) }
		}
	}
	return func() string { return h.cfg.retryAfter(time.Now()) }
}

func securedByAPIKey(path string) bool {
	return path == "/headers" || path == "/anything" || strings.HasPrefix(path, "/anything/")
}

func (h *HTTPBin) hasAPIKey(r *http.Request) bool {
	if r.Header.Get(HTTPBinAPIKeyHeader) == h.cfg.apiKey || r.URL.Query().Get(HTTPBinAPIKeyParam) == h.cfg.apiKey {
		return true
	}
	c, err := r.Cookie(HTTPBinAPIKeyParam)
	return err == nil && c.Value == h.cfg.apiKey
}

// writeHTTPBinError answers like go-httpbin's own errors.
func writeHTTPBinError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status_code": status,
		"error":       http.StatusText(status),
		"detail":      detail,
	})
}

// retryAfterWriter adds Retry-After to a 429 that has none.
type retryAfterWriter struct {
	http.ResponseWriter
	value       func() string
	wroteHeader bool
}

func (w *retryAfterWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", w.value())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *retryAfterWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets go-httpbin's streaming endpoints flush through the wrapper.
func (w *retryAfterWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
