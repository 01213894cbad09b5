package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/http/openapi"
	"github.com/apiq/apiq/http/telemetry"
)

// engine assembles the middleware chain and the route table:
// request id → recovery → trace → metrics → access log → body limit, then
// per route: min_position wait → authentication/authorisation → validation
// → idempotency (POST) → handler.
func (s *server) engine() (*gin.Engine, error) {
	metrics, err := telemetry.NewMetrics(s.deps.Registry)
	if err != nil {
		return nil, err
	}
	s.metricsHTTP = promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{Registry: s.deps.Registry})
	guard, err := auth.NewGuard(s.deps.Authenticator, s.deps.Users, s.deps.Denials, s.deps.Logger)
	if err != nil {
		return nil, err
	}
	if s.deps.SessionAuthenticator != nil {
		var origins []string
		if u, err := url.Parse(s.cfg.PublicURL); err == nil && s.cfg.PublicURL != "" {
			origins = append(origins, u.Scheme+"://"+u.Host)
		}
		guard = guard.WithSessions(s.deps.SessionAuthenticator, origins)
	}
	idem, err := s.deps.Idempotency.Middleware(idempotency.MiddlewareConfig{
		Scope:        idempotencyScope,
		InFlightWait: s.cfg.IdempotencyWait,
		PollInterval: defaultPollInterval,
		Logger:       s.deps.Logger,
	})
	if err != nil {
		return nil, err
	}
	validator := openapi.NewValidator(s.deps.Document)
	protect, err := s.protections()
	if err != nil {
		return nil, err
	}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	e.Use(
		telemetry.RequestID(),
		s.recovery(),
		telemetry.Tracing(s.cfg.ServiceName, s.deps.TracerProvider, s.deps.Propagator),
		metrics.Middleware(),
		telemetry.AccessLog(s.deps.Logger),
		s.limitBody(),
	)
	e.Use(protect.global(s.cfg.Security)...)
	e.NoRoute(func(c *gin.Context) {
		if s.deps.Web != nil && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) &&
			!strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			c.Status(http.StatusOK) // gin presets 404 for unmatched routes
			s.deps.Web.ServeHTTP(c.Writer, c.Request)
			return
		}
		apierror.Abort(c, apierror.ErrRouteNotFound)
	})
	e.NoMethod(func(c *gin.Context) { apierror.Abort(c, apierror.ErrMethodNotAllowed) })

	for _, r := range s.routes() {
		var chain []gin.HandlerFunc
		if !r.access.Public {
			// Read-your-writes covers the credentials too (a token just
			// issued or revoked), so the wait comes before authentication.
			chain = append(chain, s.awaitMinPosition)
		}
		chain = append(chain, guard.Require(r.access, telemetry.RequestIDFrom))
		chain = append(chain, protect.route(r.method, r.path, r.access)...)
		chain = append(chain, validator.Middleware())
		if r.method == http.MethodPost && !r.access.Public {
			chain = append(chain, idem)
		}
		e.Handle(r.method, r.path, append(chain, r.handler)...)
	}
	return e, nil
}

// idempotencyScope keys Idempotency-Key records by the caller.
func idempotencyScope(c *gin.Context) (string, string) {
	p, _ := auth.PrincipalFrom(c)
	return p.TenantID, p.UserID
}

// recovery turns a panic into a 500 with the standard body and logs it.
func (s *server) recovery() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, recovered any) {
		if err, ok := recovered.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(recovered)
		}
		s.deps.Logger.ErrorContext(c.Request.Context(), "handler panicked",
			slog.String("request_id", telemetry.RequestIDFrom(c)), slog.Any("panic", recovered),
			slog.String("stack", string(debug.Stack())))
		apierror.Abort(c, apierror.New(http.StatusInternalServerError, apierror.CodeInternal, "internal error"))
	})
}

// limitBody refuses bodies over the limit: at once when Content-Length
// says so, and while reading otherwise. The routes that take an OpenAPI
// document have a limit of their own (Config.DocumentBodyBytes).
func (s *server) limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := s.cfg.MaxBodyBytes
		if documentRoutes[c.Request.Method+" "+c.FullPath()] {
			limit = max(limit, s.cfg.DocumentBodyBytes())
		}
		if c.Request.ContentLength > limit {
			apierror.Abort(c, apierror.ErrPayloadTooLarge.WithDetails(map[string]int64{"limit_bytes": limit}))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}
