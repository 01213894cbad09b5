// Package api assembles APIQ's HTTP API on gin: the route table with its
// access policy, request validation against the OpenAPI document,
// idempotency, observability and the handlers.
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/health"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/http/openapi"
)

// Config tunes the API.
type Config struct {
	// MaxBodyBytes limits request bodies (413 payload_too_large beyond).
	MaxBodyBytes int64
	// ReadYourWritesTimeout bounds a min_position wait (504 projection_timeout).
	ReadYourWritesTimeout time.Duration
	// ReadinessTimeout bounds each /readyz check.
	ReadinessTimeout time.Duration
	// IdempotencyWait bounds how long a duplicate request waits for the first.
	IdempotencyWait time.Duration
	// TrustedProxies may set X-Forwarded-For; none when empty.
	TrustedProxies []string
	ServiceName    string
	// MaxDocumentBytes limits an OpenAPI document (APIQ_MAX_DOCUMENT_BYTES);
	// the routes that take one accept bodies up to DocumentBodyBytes.
	MaxDocumentBytes int64
	// PublicURL is where clients and OAuth providers reach APIQ
	// (APIQ_PUBLIC_URL, no trailing slash); the OAuth callback URL is
	// derived from the request's host when empty.
	PublicURL string
	// Security tunes headers, CORS, rate limits and login throttling.
	Security SecurityConfig
}

// DocumentBodyBytes is the body limit of the routes that take an OpenAPI
// document: the document, JSON-escaped inside a string (which can double
// it), and the other fields.
func (c Config) DocumentBodyBytes() int64 { return 2*c.MaxDocumentBytes + 1<<20 }

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:          1 << 20,
		ReadYourWritesTimeout: 5 * time.Second,
		ReadinessTimeout:      2 * time.Second,
		IdempotencyWait:       10 * time.Second,
		ServiceName:           "apiq",
		MaxDocumentBytes:      25 << 20,
		Security:              DefaultSecurityConfig(),
	}
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("api: MaxBodyBytes must be positive"))
	}
	if c.ReadYourWritesTimeout <= 0 {
		errs = append(errs, errors.New("api: ReadYourWritesTimeout must be positive"))
	}
	if c.ReadinessTimeout <= 0 {
		errs = append(errs, errors.New("api: ReadinessTimeout must be positive"))
	}
	if c.IdempotencyWait < 0 {
		errs = append(errs, errors.New("api: IdempotencyWait must not be negative"))
	}
	if c.ServiceName == "" {
		errs = append(errs, errors.New("api: ServiceName is required"))
	}
	if c.MaxDocumentBytes <= 0 {
		errs = append(errs, errors.New("api: MaxDocumentBytes must be positive"))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			strings.HasSuffix(c.PublicURL, "/") {
			errs = append(errs, errors.New("api: PublicURL must be an absolute http(s) URL without a trailing slash"))
		}
	}
	errs = append(errs, c.Security.Validate())
	return errors.Join(errs...)
}

// Deps are the API's collaborators, wired by the composition root.
type Deps struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// TracerProvider and Propagator drive the server spans.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	Document       *openapi.Document
	Readiness      []health.Check
	Authenticator  auth.Authenticator
	Users          auth.Users
	Denials        auth.DenialRecorder
	Idempotency    *idempotency.Store
	Sessions       Sessions
	UserCommands   UserCommands
	UserQueries    UserQueries
	TokenCommands  TokenCommands
	// TokenQueries, when set, serves GET /v1/tokens.
	TokenQueries TokenQueries
	// Keys, when set, serves GET /v1/keys (the key rotation status).
	Keys      KeyStatus
	Positions PositionWaiter
	// ConnectionCommands and ConnectionQueries serve /v1/connections.
	ConnectionCommands ConnectionCommands
	ConnectionQueries  ConnectionQueries
	// Catalogue serves the endpoint catalogue and its search.
	Catalogue CatalogueQueries
	// ExecutionCommands and ExecutionQueries serve /v1/executions.
	ExecutionCommands ExecutionCommands
	ExecutionQueries  ExecutionQueries
	// Plans serves /v1/plans.
	Plans Plans
	// Audit serves /v1/audit.
	Audit AuditTrail
	// SSO, when set, serves /v1/sso/providers and /v1/auth/sso.
	SSO SSO
	// BrowserSessions, when set, serves POST /v1/auth/session and logout;
	// SessionAuthenticator lets the auth middleware accept the session cookie.
	BrowserSessions      BrowserSessions
	SessionAuthenticator auth.SessionAuthenticator
	// TOTP, when set, serves /v1/me/totp, /v1/users/{id}/totp and
	// /v1/tenant/security.
	TOTP TOTP
	// Quotas, when set, counts API calls against the tenants' quotas.
	Quotas *quota.Store
	// ErrorRules map the domain's sentinel errors to statuses and codes.
	ErrorRules []apierror.Rule
	// Web, when set, answers the GET and HEAD requests no route matches
	// outside /v1/ (the web interface, with its own CSP).
	Web http.Handler
}

// Validate reports every missing dependency.
func (d Deps) Validate() error {
	var errs []error
	for name, missing := range map[string]bool{
		"Logger": d.Logger == nil, "Registry": d.Registry == nil, "TracerProvider": d.TracerProvider == nil,
		"Propagator": d.Propagator == nil, "Document": d.Document == nil, "Authenticator": d.Authenticator == nil,
		"Users": d.Users == nil, "Denials": d.Denials == nil, "Idempotency": d.Idempotency == nil,
		"Sessions": d.Sessions == nil, "UserCommands": d.UserCommands == nil, "UserQueries": d.UserQueries == nil,
		"TokenCommands": d.TokenCommands == nil, "Positions": d.Positions == nil,
		"ConnectionCommands": d.ConnectionCommands == nil, "ConnectionQueries": d.ConnectionQueries == nil,
		"Audit": d.Audit == nil, "Catalogue": d.Catalogue == nil,
		"ExecutionCommands": d.ExecutionCommands == nil, "ExecutionQueries": d.ExecutionQueries == nil,
		"Plans": d.Plans == nil,
	} {
		if missing {
			errs = append(errs, errors.New("api: "+name+" is required"))
		}
	}
	return errors.Join(errs...)
}

// server holds what the handlers need.
type server struct {
	cfg         Config
	deps        Deps
	errs        *apierror.Mapper
	docsPage    []byte
	metricsHTTP http.Handler
}

// New builds the HTTP handler of the API.
func New(cfg Config, deps Deps) (*gin.Engine, error) {
	if err := errors.Join(cfg.Validate(), deps.Validate()); err != nil {
		return nil, err
	}
	page, err := deps.Document.ReferencePage()
	if err != nil {
		return nil, err
	}
	rules := append(append([]apierror.Rule{}, deps.ErrorRules...), apierror.Rule{
		Target: auth.ErrInvalidCredentials, Status: http.StatusUnauthorized, Code: apierror.CodeUnauthorized,
		Message: "invalid credentials",
	})
	s := &server{cfg: cfg, deps: deps, errs: apierror.NewMapper(rules...), docsPage: page}
	return s.engine()
}
