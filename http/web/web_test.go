package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	built := NewFS(fstest.MapFS{
		"index.html":            {Data: []byte("<!doctype html><title>APIQ</title>")},
		"assets/app-ABC123.js":  {Data: []byte("console.log(1)")},
		"assets/style-XYZ.css":  {Data: []byte("body{}")},
		".keep":                 {Data: []byte("placeholder")},
		"assets/nested/.hidden": {Data: []byte("x")},
	})
	require.True(t, built.Built())
	notBuiltYet := NewFS(fstest.MapFS{".keep": {Data: []byte("placeholder")}})
	require.False(t, notBuiltYet.Built())

	tests := []struct {
		name        string
		h           *Handler
		method      string
		path        string
		status      int
		contains    string
		contentType string
		cache       string
	}{
		{"the index", built, "GET", "/", 200, "<title>APIQ</title>", "text/html; charset=utf-8", "no-cache"},
		{"a route of the interface falls back to the index", built, "GET", "/connections/42", 200, "<title>APIQ</title>", "text/html; charset=utf-8", "no-cache"},
		{"a hashed asset is cached for good", built, "GET", "/assets/app-ABC123.js", 200, "console.log(1)", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"a stylesheet", built, "GET", "/assets/style-XYZ.css", 200, "body{}", "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"a missing asset is a 404, not the index", built, "GET", "/assets/app-OLD.js", 404, "not found", "", ""},
		{"a dot file is never served", built, "GET", "/.keep", 200, "<title>APIQ</title>", "text/html; charset=utf-8", "no-cache"},
		{"path tricks stay inside the build", built, "GET", "/../../etc/passwd", 200, "<title>APIQ</title>", "text/html; charset=utf-8", "no-cache"},
		{"HEAD", built, "HEAD", "/ask", 200, "", "text/html; charset=utf-8", "no-cache"},
		{"other methods are refused", built, "POST", "/", 405, "method not allowed", "", ""},
		{"without a build, a page says how to build", notBuiltYet, "GET", "/overview", 503, "make web", "text/html; charset=utf-8", "no-store"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			assert.Equal(t, tc.status, rec.Code)
			assert.Contains(t, rec.Body.String(), tc.contains)
			if tc.contentType != "" {
				assert.Equal(t, tc.contentType, rec.Header().Get("Content-Type"))
			}
			assert.Equal(t, tc.cache, rec.Header().Get("Cache-Control"))
			if tc.status != http.StatusMethodNotAllowed {
				assert.Equal(t, ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
			}
		})
	}
}

// The embedded build always compiles: with or without `make web`, New
// answers either the interface or the page saying how to build it.
func TestEmbedded(t *testing.T) {
	h := New()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if h.Built() {
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Contains(t, rec.Body.String(), `<script type="module" src="/assets/app-`)
	} else {
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Contains(t, rec.Body.String(), "make web")
	}
}
