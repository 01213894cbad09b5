// Package security holds the HTTP layer's browser-facing protections:
// security headers, CORS, per-key request rate limits with RateLimit-*
// headers, and login throttling per account and per client address.
package security

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// ContentSecurityPolicy is the default policy of every response: the API
// serves JSON, so nothing may be loaded, framed or submitted elsewhere.
const ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Headers sets the security headers of every response (a handler may
// still replace the Content-Security-Policy, as /docs does), and
// Strict-Transport-Security on requests that arrived over TLS.
func Headers() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if c.Request.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		c.Next()
	}
}

// CORSConfig lists the browser origins allowed to call the API.
type CORSConfig struct {
	// Origins are exact origins ("https://app.example.com"); "*" allows
	// any origin but then without credentials.
	Origins []string
	// MaxAge is how long (seconds) a browser may cache a preflight.
	MaxAge int
}

var (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, Idempotency-Key, X-CSRF-Token, X-Request-Id, Last-Event-ID"
	corsExpose  = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, Location"
)

// CORS answers preflight requests and adds the CORS headers for allowed
// origins; other origins get no CORS headers, so browsers block them.
func CORS(cfg CORSConfig) gin.HandlerFunc {
	anyOrigin := slices.Contains(cfg.Origins, "*")
	maxAge := "600"
	if cfg.MaxAge > 0 {
		maxAge = itoa(cfg.MaxAge)
	}
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		allowed := anyOrigin || slices.Contains(cfg.Origins, origin)
		preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
		if !allowed {
			if preflight {
				c.AbortWithStatus(http.StatusForbidden)
				return
			}
			c.Next()
			return
		}
		if anyOrigin && !slices.Contains(cfg.Origins, origin) {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Set("Access-Control-Expose-Headers", corsExpose)
		if preflight {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", maxAge)
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// ParseOrigins splits a comma-separated APIQ_CORS_ORIGINS value.
func ParseOrigins(value string) []string {
	var out []string
	for _, o := range strings.Split(value, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}
