package outbound

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config tunes the caller; zero fields take their defaults.
type Config struct {
	// Allow lists the address ranges that may be dialled although the
	// built-in deny list blocks them (loopback for tests, a private API). The
	// default allows none of the blocked ranges.
	Allow []netip.Prefix
	// ConnectTimeout bounds one TCP connect (default 5 s).
	ConnectTimeout time.Duration
	// TLSHandshakeTimeout bounds one TLS handshake (default 10 s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers once the
	// request is written (default 30 s).
	ResponseHeaderTimeout time.Duration
	// AttemptTimeout bounds one attempt from dial to the last body byte
	// (default 60 s).
	AttemptTimeout time.Duration
	// Timeout bounds a whole call: every attempt and every wait between them
	// (default 2 min).
	Timeout time.Duration
	// MaxRequestBytes caps the request body, which is buffered so that a
	// retry or a 307/308 redirect can send it again (default 10 MiB).
	MaxRequestBytes int64
	// MaxResponseBytes caps the response body read into a Result (default
	// 25 MiB, the largest OpenAPI document APIQ imports).
	MaxResponseBytes int64
	// MaxResponseHeaderBytes caps the response headers (default 1 MiB).
	MaxResponseHeaderBytes int64
	// MaxRedirects is how many redirects one attempt follows (default 5; a
	// negative value follows none).
	MaxRedirects int
	// UserAgent is sent when the request sets none (default "APIQ-outbound/1").
	UserAgent string
	// Retry decides which failures are tried again and how long to wait.
	Retry RetryConfig
	// RateLimit throttles the attempts of one key (a connection id).
	RateLimit RateLimitConfig
	// Breaker stops calling a key that keeps failing.
	Breaker BreakerConfig
}

// RetryConfig shapes retries: exponential backoff with full jitter, or the
// wait the server asks for in Retry-After.
type RetryConfig struct {
	// MaxAttempts counts the first attempt too (default 3; 1 disables retries).
	MaxAttempts int
	// BaseDelay is the backoff ceiling before the first retry; it doubles per
	// retry (default 200 ms).
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling (default 5 s).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the caller waits for; a server
	// asking for more gets its response returned (Result.RetryAfter says how
	// long it asked) instead of a blocked caller (default 30 s).
	MaxRetryAfter time.Duration
	// RetryInternalServerError adds 500 to the retried statuses (429, 502,
	// 503, 504).
	RetryInternalServerError bool
}

// RateLimitConfig is a token bucket per key.
type RateLimitConfig struct {
	// PerSecond is the sustained rate of attempts per key (default 10).
	PerSecond float64
	// Burst is how many attempts may go at once (default 20).
	Burst int
	// Unlimited turns the rate limit off.
	Unlimited bool
}

// BreakerConfig is a circuit breaker per key.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker (default 5). Failures are network
	// errors, timeouts and 5xx responses.
	ConsecutiveFailures uint32
	// OpenTimeout is how long an open breaker refuses calls before it lets
	// probes through (default 30 s).
	OpenTimeout time.Duration
	// HalfOpenProbes is how many calls a half-open breaker lets through; that
	// many successes close it, one failure opens it again (default 1).
	HalfOpenProbes uint32
	// Interval clears the failure counts of a closed breaker periodically
	// (default 0: counts clear only on a success or a state change).
	Interval time.Duration
	// Disabled turns the breaker off.
	Disabled bool
}

func (c *Config) setDefaults() {
	setDuration(&c.ConnectTimeout, 5*time.Second)
	setDuration(&c.TLSHandshakeTimeout, 10*time.Second)
	setDuration(&c.ResponseHeaderTimeout, 30*time.Second)
	setDuration(&c.AttemptTimeout, time.Minute)
	setDuration(&c.Timeout, 2*time.Minute)
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 10 << 20
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 25 << 20
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = 1 << 20
	}
	if c.MaxRedirects == 0 {
		c.MaxRedirects = 5
	}
	if c.UserAgent == "" {
		c.UserAgent = "APIQ-outbound/1"
	}
	if c.Retry.MaxAttempts == 0 {
		c.Retry.MaxAttempts = 3
	}
	setDuration(&c.Retry.BaseDelay, 200*time.Millisecond)
	setDuration(&c.Retry.MaxDelay, 5*time.Second)
	setDuration(&c.Retry.MaxRetryAfter, 30*time.Second)
	if c.RateLimit.PerSecond == 0 {
		c.RateLimit.PerSecond = 10
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = 20
	}
	if c.Breaker.ConsecutiveFailures == 0 {
		c.Breaker.ConsecutiveFailures = 5
	}
	setDuration(&c.Breaker.OpenTimeout, 30*time.Second)
	if c.Breaker.HalfOpenProbes == 0 {
		c.Breaker.HalfOpenProbes = 1
	}
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", name, d))
		}
	}
	positive("connect timeout", c.ConnectTimeout)
	positive("TLS handshake timeout", c.TLSHandshakeTimeout)
	positive("response header timeout", c.ResponseHeaderTimeout)
	positive("attempt timeout", c.AttemptTimeout)
	positive("timeout", c.Timeout)
	positive("retry base delay", c.Retry.BaseDelay)
	positive("retry max delay", c.Retry.MaxDelay)
	positive("retry max Retry-After", c.Retry.MaxRetryAfter)
	positive("breaker open timeout", c.Breaker.OpenTimeout)
	for i, p := range c.Allow {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("allow[%d]: invalid prefix", i))
		}
	}
	if c.MaxRequestBytes <= 0 {
		errs = append(errs, fmt.Errorf("max request bytes %d: must be positive", c.MaxRequestBytes))
	}
	if c.MaxResponseBytes <= 0 {
		errs = append(errs, fmt.Errorf("max response bytes %d: must be positive", c.MaxResponseBytes))
	}
	if c.MaxResponseHeaderBytes <= 0 {
		errs = append(errs, fmt.Errorf("max response header bytes %d: must be positive", c.MaxResponseHeaderBytes))
	}
	if c.Retry.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("retry max attempts %d: must be at least 1", c.Retry.MaxAttempts))
	}
	if c.Retry.MaxDelay < c.Retry.BaseDelay {
		errs = append(errs, fmt.Errorf("retry max delay %s: must not be below the base delay %s", c.Retry.MaxDelay, c.Retry.BaseDelay))
	}
	if !c.RateLimit.Unlimited && c.RateLimit.PerSecond <= 0 {
		errs = append(errs, fmt.Errorf("rate limit %g/s: must be positive", c.RateLimit.PerSecond))
	}
	if !c.RateLimit.Unlimited && c.RateLimit.Burst < 1 {
		errs = append(errs, fmt.Errorf("rate limit burst %d: must be at least 1", c.RateLimit.Burst))
	}
	if c.Breaker.Interval < 0 {
		errs = append(errs, fmt.Errorf("breaker interval %s: must not be negative", c.Breaker.Interval))
	}
	if c.UserAgent == "" {
		errs = append(errs, errors.New("user agent: must not be empty"))
	}
	return errors.Join(errs...)
}

// ParseAllowlist parses a comma-separated list of CIDR prefixes or single
// addresses (the APIQ_OUTBOUND_ALLOW format, e.g. "127.0.0.1/32,::1"); an
// empty string allows nothing. IPv4-mapped IPv6 entries become their IPv4
// form, since the dialler sees mapped addresses as IPv4.
func ParseAllowlist(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	var errs []error
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseAllowEntry(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowlist entry %q: %w", entry, err))
			continue
		}
		prefixes = append(prefixes, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return prefixes, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if p, err = netip.ParsePrefix(entry); err != nil {
			return netip.Prefix{}, err
		}
	} else {
		addr, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}
