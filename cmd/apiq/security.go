package main

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/security"
)

// SecurityConfig is the part of the configuration about browsers, request
// rates, login throttling and quotas.
type SecurityConfig struct {
	API    api.SecurityConfig // APIQ_CORS_ORIGINS, APIQ_RATE_*, APIQ_LOGIN_*
	Quotas quota.Limits       // APIQ_QUOTA_*
}

// securityVars lists the variables loadSecurityConfig reads.
func securityVars() []envVar {
	return []envVar{
		{"APIQ_CORS_ORIGINS", "", "comma-separated browser origins allowed to call the API with credentials (none by default)"},
		{"APIQ_RATE_LIMIT", "100", "authenticated requests per second per tenant (token bucket refill)"},
		{"APIQ_RATE_BURST", "200", "authenticated requests per tenant at once (token bucket size)"},
		{"APIQ_LOGIN_MAX_FAILURES", "5", "failed logins per account in 15 minutes before it is throttled"},
		{"APIQ_LOGIN_MAX_FAILURES_PER_IP", "50", "failed logins per client address in 15 minutes before it is throttled"},
		{"APIQ_QUOTA_API_CALLS_PER_HOUR", "0", "API calls per tenant per hour, across processes (0: unlimited)"},
		{"APIQ_QUOTA_EXECUTIONS_PER_HOUR", "0", "plan executions per tenant per hour (0: unlimited)"},
		{"APIQ_QUOTA_LLM_TOKENS_PER_DAY", "0", "LLM tokens per tenant per day (0: unlimited)"},
	}
}

// loadSecurityConfig reads the security variables, listing every problem.
func loadSecurityConfig(get func(name, def string) string) (SecurityConfig, []error) {
	cfg := SecurityConfig{API: api.DefaultSecurityConfig()}
	cfg.API.CORSOrigins = security.ParseOrigins(get("APIQ_CORS_ORIGINS", ""))
	var errs []error
	parseFloat := func(name, def string, into *float64) {
		v, err := strconv.ParseFloat(get(name, def), 64)
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive number", name))
			return
		}
		*into = v
	}
	parseInt := func(name, def string, minimum int64, into func(int64)) {
		v, err := strconv.ParseInt(get(name, def), 10, 64)
		if err != nil || v < minimum {
			errs = append(errs, fmt.Errorf("%s must be an integer of at least %d", name, minimum))
			return
		}
		into(v)
	}
	parseFloat("APIQ_RATE_LIMIT", "100", &cfg.API.TenantRate.Rate)
	parseInt("APIQ_RATE_BURST", "200", 1, func(v int64) { cfg.API.TenantRate.Burst = int(v) })
	parseInt("APIQ_LOGIN_MAX_FAILURES", "5", 1, func(v int64) { cfg.API.LoginThrottle.AccountFailures = int(v) })
	parseInt("APIQ_LOGIN_MAX_FAILURES_PER_IP", "50", 1, func(v int64) { cfg.API.LoginThrottle.AddressFailures = int(v) })
	parseInt("APIQ_QUOTA_API_CALLS_PER_HOUR", "0", 0, func(v int64) { cfg.Quotas.APICallsPerHour = v })
	parseInt("APIQ_QUOTA_EXECUTIONS_PER_HOUR", "0", 0, func(v int64) { cfg.Quotas.ExecutionsPerHour = v })
	parseInt("APIQ_QUOTA_LLM_TOKENS_PER_DAY", "0", 0, func(v int64) { cfg.Quotas.LLMTokensPerDay = v })
	for _, o := range cfg.API.CORSOrigins {
		if o != "*" && !validOrigin(o) {
			errs = append(errs, fmt.Errorf("APIQ_CORS_ORIGINS: %q is not an http(s) origin", o))
		}
	}
	return cfg, errs
}

// validOrigin reports whether o is scheme://host[:port] of http or https.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Path == "" &&
		u.RawQuery == "" && u.User == nil
}
