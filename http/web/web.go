// Package web serves APIQ's web interface: the TypeScript front end in
// src, bundled by esbuild (`make web`) into dist and embedded here. Every
// path that is not a file of dist answers index.html, so the interface's
// own routes (/connections, /executions/…) load on a reload. Without a
// build, every path answers a page saying how to build it.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// ContentSecurityPolicy lets the page load its own scripts, styles and
// images and call its own origin, nothing else.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// notBuilt is the page served when dist holds no index.html.
var notBuilt = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>APIQ</title></head>
<body><h1>APIQ</h1>
<p>The web interface's assets were not built into this binary.</p>
<p>Run <code>make web</code> (or <code>make build</code>, which runs it) and rebuild; the REST API at
<a href="/docs">/docs</a> works without them.</p></body></html>
`)

// Handler serves the embedded interface.
type Handler struct {
	files fs.FS
	index []byte
	mod   time.Time
}

// New returns the handler of the embedded build.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // dist is embedded, so this cannot happen
		panic(err)
	}
	return NewFS(sub)
}

// NewFS serves the build in files (index.html at its root).
func NewFS(files fs.FS) *Handler {
	h := &Handler{files: files, mod: time.Now()}
	if index, err := fs.ReadFile(files, "index.html"); err == nil {
		h.index = index
	}
	return h
}

// Built reports whether the interface's assets were built.
func (h *Handler) Built() bool { return h.index != nil }

// ServeHTTP answers GET and HEAD: a file of the build, else index.html.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
	if h.index == nil {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(notBuilt)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name != "" && name != "index.html" && !strings.HasPrefix(path.Base(name), ".") {
		if data, err := fs.ReadFile(h.files, name); err == nil {
			// Asset names carry a content hash: cache them for good.
			if strings.HasPrefix(name, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeContent(w, r, name, h.mod, bytes.NewReader(data))
			return
		}
		if strings.HasPrefix(name, "assets/") {
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "index.html", h.mod, bytes.NewReader(h.index))
}
