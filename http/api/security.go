package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/security"
)

// SecurityConfig tunes the browser-facing protections and the limits.
type SecurityConfig struct {
	// CORSOrigins may call the API from a browser (APIQ_CORS_ORIGINS).
	CORSOrigins []string
	// TenantRate limits each tenant's authenticated requests
	// (APIQ_RATE_LIMIT, APIQ_RATE_BURST).
	TenantRate security.RateConfig
	// LoginThrottle bounds failed logins per account and per address.
	LoginThrottle security.ThrottleConfig
}

// DefaultSecurityConfig returns the production defaults: 100 requests per
// second per tenant with bursts of 200, no browser origin but APIQ's own.
func DefaultSecurityConfig() SecurityConfig {
	t := security.DefaultThrottleConfig()
	t.AddressFailures = 50
	return SecurityConfig{TenantRate: security.RateConfig{Rate: 100, Burst: 200}, LoginThrottle: t}
}

// Validate reports every problem of the configuration.
func (c SecurityConfig) Validate() error {
	return errors.Join(c.TenantRate.Validate(), c.LoginThrottle.Validate())
}

// loginRoutes take an email and a password, and so are throttled.
var loginRoutes = map[string]bool{
	http.MethodPost + " /v1/auth/login":   true,
	http.MethodPost + " /v1/auth/session": true,
}

// protections are the security middlewares of the engine.
type protections struct {
	throttle *security.LoginThrottle
	tenants  *security.Limiter
	quotas   *quota.Store
	// codes bounds wrong TOTP codes per user, as throttle bounds passwords.
	codes *security.LoginThrottle
}

func (s *server) protections() (*protections, error) {
	throttle, err := security.NewLoginThrottle(s.cfg.Security.LoginThrottle, nil)
	if err != nil {
		return nil, err
	}
	tenants, err := security.NewLimiter(s.cfg.Security.TenantRate, nil)
	if err != nil {
		return nil, err
	}
	codes, err := security.NewLoginThrottle(s.cfg.Security.LoginThrottle, nil)
	if err != nil {
		return nil, err
	}
	return &protections{throttle: throttle, tenants: tenants, quotas: s.deps.Quotas, codes: codes}, nil
}

// global runs on every request, matched or not.
func (p *protections) global(cfg SecurityConfig) []gin.HandlerFunc {
	return []gin.HandlerFunc{security.Headers(), security.CORS(security.CORSConfig{Origins: cfg.CORSOrigins})}
}

// route returns the protections of one route: login throttling before
// the handler of a login route; the tenant's rate limit and API call quota
// after authentication.
func (p *protections) route(method, path string, access auth.Access) []gin.HandlerFunc {
	if access.Public {
		if loginRoutes[method+" "+path] {
			return []gin.HandlerFunc{p.throttle.Middleware()}
		}
		return nil
	}
	chain := []gin.HandlerFunc{p.tenants.Middleware("tenant", callerTenant)}
	if p.quotas != nil && p.quotas.Limited(quota.APICalls) {
		chain = append(chain, security.QuotaMiddleware(p.quotas, quota.APICalls, callerTenant))
	}
	if totpCodeRoutes[method+" "+path] {
		chain = append(chain, p.throttleCodes)
	}
	if kind, ok := quotaRoutes[method+" "+path]; ok && p.quotas != nil && p.quotas.Limited(kind) {
		chain = append(chain, security.QuotaMiddleware(p.quotas, kind, callerTenant))
	}
	return chain
}

// quotaRoutes spend a quota of their own: an execution each, and for the
// routes that ask the model a token up front, which refuses them once the
// day's tokens are spent (the Plans side charges the tokens the model
// used afterwards).
var quotaRoutes = map[string]quota.Kind{
	http.MethodPost + " /v1/executions":       quota.Executions,
	http.MethodPost + " /v1/plans":            quota.LLMTokens,
	http.MethodPost + " /v1/plans/:id/revise": quota.LLMTokens,
}

// callerTenant keys the limits by the authenticated caller's tenant.
func callerTenant(c *gin.Context) string {
	p, _ := auth.PrincipalFrom(c)
	return p.TenantID
}
