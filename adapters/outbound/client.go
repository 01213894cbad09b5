// Package outbound is APIQ's one HTTP caller for spec fetches and API step
// calls: it refuses internal addresses at dial time, re-checks redirects and
// keeps credentials from crossing origins, bounds time and size, retries what
// is safe to retry with backoff that honours Retry-After, and rate-limits and
// circuit-breaks per key (a connection id).
package outbound

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
)

// Client makes outbound calls; it is safe for concurrent use.
type Client struct {
	cfg       Config
	logger    *slog.Logger
	metrics   *Metrics
	transport *http.Transport
	http      *http.Client
	guards    *keyGuards
}

// Causes of the two deadlines a call runs under, told apart from the
// caller's own deadline or cancellation.
var (
	errCallTimeout    = errors.New("call timeout")
	errAttemptTimeout = errors.New("attempt timeout")
	// errGaveUp stops retries without failing the call: the Result holds the
	// response.
	errGaveUp = errors.New("gave up retrying")
)

// New returns a Client configured by cfg (zero fields take their defaults);
// logger receives one line per attempt at debug level and guard refusals
// and breaker changes above it; metrics may be nil.
func New(cfg Config, logger *slog.Logger, metrics *Metrics) (*Client, error) {
	if logger == nil {
		return nil, errors.New("outbound: nil logger")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("outbound config: %w", err)
	}
	guard := newAddressGuard(cfg.Allow)
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second, Control: guard.control}
	transport := &http.Transport{
		Proxy:                  nil, // proxies from the environment would dial on our behalf, unchecked
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    10,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
	}
	return &Client{
		cfg:       cfg,
		logger:    logger,
		metrics:   metrics,
		transport: transport,
		http:      &http.Client{Transport: transport, CheckRedirect: checkRedirect},
		guards:    newKeyGuards(cfg, logger, metrics),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Forget drops the rate limiter and circuit breaker of key (a deleted
// connection).
func (c *Client) Forget(key string) { c.guards.forget(key) }

// BreakerState reports key's circuit breaker state.
func (c *Client) BreakerState(key string) BreakerState { return c.guards.state(key) }

// call is a Request checked and made ready to send any number of times.
type call struct {
	method    string
	url       *url.URL
	target    string // safe to log
	header    http.Header
	body      []byte
	key       string
	retryable bool
	maxBody   int64
	truncOK   bool
	redirect  *redirectPolicy
}

// Do makes the call. It returns the Result of the last attempt with a nil
// error whenever a response came, whatever its status (retries exhausted
// included); errors mean no usable response: a guard refused the call
// (ErrBlockedAddress, ErrCircuitOpen, ErrRateLimited, ErrTooManyRedirects,
// ErrForbiddenURL, ErrForbiddenRedirect, ErrRequestTooLarge), the body
// exceeded the cap (ErrResponseTooLarge, with the capped body in the
// Result), time ran out (ErrTimeout) or the network failed. The Result is
// non-nil whenever an attempt was made.
func (c *Client) Do(ctx context.Context, req Request) (*Result, error) {
	started := time.Now()
	cl, err := c.prepare(req)
	if err != nil {
		c.metrics.callRefused(refusalReason(err))
		c.logger.WarnContext(ctx, "outbound call refused", "error", err)
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, errCallTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, redirectPolicyKey{}, cl.redirect)

	result := &Result{}
	tries := uint(1)
	if cl.retryable {
		tries = uint(c.cfg.Retry.MaxAttempts)
		if req.MaxAttempts > 0 {
			tries = min(tries, uint(req.MaxAttempts))
		}
	}
	deadline, _ := ctx.Deadline()
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, c.attempt(ctx, cl, result)
	},
		backoff.WithBackOff(&fullJitter{base: c.cfg.Retry.BaseDelay, max: c.cfg.Retry.MaxDelay}),
		backoff.WithMaxTries(tries),
		// Stop rather than start a wait the call's deadline would cut short.
		backoff.WithMaxElapsedTime(max(time.Until(deadline), time.Nanosecond)),
		backoff.WithNotify(func(err error, wait time.Duration) {
			result.Attempts[len(result.Attempts)-1].Wait = wait
			reason := "network"
			var rs *retryStatusError
			if errors.As(err, &rs) {
				reason = fmt.Sprintf("status_%d", rs.status)
			} else if errors.Is(err, ErrTimeout) {
				reason = "timeout"
			}
			c.metrics.retryScheduled(reason)
			c.logger.DebugContext(ctx, "outbound retry scheduled", "key", cl.key, "method", cl.method,
				"target", cl.target, "attempt", len(result.Attempts), "reason", reason, "wait", wait)
		}),
	)
	result.Duration = time.Since(started)
	var rs *retryStatusError
	switch {
	case err == nil, errors.As(err, &rs), errors.Is(err, errGaveUp):
		return result, nil
	case context.Cause(ctx) == errCallTimeout && !errors.Is(err, ErrTimeout):
		return result, fmt.Errorf("%s %s: %w after %s: %w", cl.method, cl.target, ErrTimeout, c.cfg.Timeout, err)
	case err == context.Cause(ctx):
		// The caller gave up while a retry was waiting.
		return result, fmt.Errorf("%s %s after %d attempts: %w", cl.method, cl.target, len(result.Attempts), err)
	default:
		return result, err
	}
}

// prepare validates req and fixes everything that stays the same across
// attempts.
func (c *Client) prepare(req Request) (*call, error) {
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		// url.Parse errors quote the whole URL, secrets included.
		return nil, fmt.Errorf("%w: unparsable url", ErrForbiddenURL)
	}
	target := safeTarget(u)
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	cl := &call{
		method:  method,
		url:     u,
		target:  target,
		key:     req.Key,
		maxBody: c.cfg.MaxResponseBytes,
		truncOK: req.AllowTruncated,
		header:  req.Header.Clone(),
	}
	if cl.header == nil {
		cl.header = http.Header{}
	}
	if cl.key == "" {
		cl.key = originOf(u)
	}
	if req.MaxResponseBytes > 0 {
		cl.maxBody = req.MaxResponseBytes
	}
	if cl.header.Get("User-Agent") == "" {
		cl.header.Set("User-Agent", c.cfg.UserAgent)
	}
	if req.Body != nil {
		body, err := io.ReadAll(io.LimitReader(req.Body, c.cfg.MaxRequestBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%s %s: read request body: %w", method, target, err)
		}
		if int64(len(body)) > c.cfg.MaxRequestBytes {
			return nil, fmt.Errorf("%s %s: %w: over %d bytes", method, target, ErrRequestTooLarge, c.cfg.MaxRequestBytes)
		}
		cl.body = body
	}
	cl.retryable = idempotentMethod(method) && !req.NonIdempotent
	if req.IdempotencyKey != "" {
		name := req.IdempotencyHeader
		if name == "" {
			name = DefaultIdempotencyHeader
		}
		cl.header.Set(name, req.IdempotencyKey)
		cl.retryable = true
	}
	cl.redirect = &redirectPolicy{
		origin:        originOf(u),
		maxRedirects:  c.cfg.MaxRedirects,
		secretHeaders: req.SecretHeaders,
		secretParams:  req.SecretQueryParams,
	}
	return cl, nil
}

// attempt makes one try, records it in result, and tells backoff.Retry
// whether another try may follow (a plain error), must not
// (backoff.Permanent), or is not needed (nil).
func (c *Client) attempt(ctx context.Context, cl *call, result *Result) error {
	guard := c.guards.get(cl.key)
	if err := guard.wait(ctx); err != nil {
		return c.refuse(ctx, cl, fmt.Errorf("%s %s: key %s: %w", cl.method, cl.target, cl.key, err))
	}
	done, err := guard.allow()
	if err != nil {
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			err = fmt.Errorf("%w for key %s (%v)", ErrCircuitOpen, cl.key, err)
		}
		return c.refuse(ctx, cl, fmt.Errorf("%s %s: %w", cl.method, cl.target, err))
	}

	actx, cancel := context.WithTimeoutCause(ctx, c.cfg.AttemptTimeout, errAttemptTimeout)
	defer cancel()
	var body io.Reader = http.NoBody
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	hreq, err := http.NewRequestWithContext(actx, cl.method, cl.url.String(), body)
	if err != nil {
		done(outcomeNeutral)
		return backoff.Permanent(fmt.Errorf("%s %s: build request: %w", cl.method, cl.target, err))
	}
	hreq.Header = cl.header.Clone()

	*result = Result{Attempts: result.Attempts}
	started := time.Now()
	resp, err := c.http.Do(hreq)
	if err == nil {
		err = readBody(resp, cl.maxBody, result)
	}
	took := time.Since(started)
	result.Attempts = append(result.Attempts, Attempt{Status: result.Status, Duration: took})
	last := &result.Attempts[len(result.Attempts)-1]
	n := len(result.Attempts)

	if err != nil {
		f := c.classify(ctx, actx, err)
		err = fmt.Errorf("%s %s attempt %d: %w", cl.method, cl.target, n, f.err)
		last.Err = err
		done(f.outcome)
		c.metrics.attemptDone(cl.method, outcomeLabel(err), took)
		if reason := refusalReason(err); reason != "other" {
			c.metrics.callRefused(reason)
			c.logger.WarnContext(ctx, "outbound call refused", "key", cl.key, "method", cl.method, "target", cl.target, "attempt", n, "error", err)
		} else {
			c.logAttempt(ctx, cl, n, 0, took, err)
		}
		if f.retry && cl.retryable {
			return err
		}
		return backoff.Permanent(err)
	}

	status := result.Status
	switch {
	case status >= 500:
		done(outcomeFailure)
	case status == http.StatusTooManyRequests:
		done(outcomeNeutral)
	default:
		done(outcomeSuccess)
	}
	c.metrics.attemptDone(cl.method, fmt.Sprintf("%dxx", status/100), took)
	c.logAttempt(ctx, cl, n, status, took, nil)

	if retryableStatus(status, c.cfg.Retry.RetryInternalServerError) {
		wait, hasWait := parseRetryAfter(result.Header.Get("Retry-After"), time.Now())
		result.RetryAfter = wait
		switch {
		case !cl.retryable:
		case hasWait && wait > c.cfg.Retry.MaxRetryAfter:
			return backoff.Permanent(errGaveUp)
		case hasWait:
			return &retryStatusError{status: status, retryAfter: &backoff.RetryAfterError{Duration: wait}}
		default:
			return &retryStatusError{status: status}
		}
	}
	if result.Truncated && !cl.truncOK {
		err := fmt.Errorf("%s %s: %w: over %d bytes", cl.method, cl.target, ErrResponseTooLarge, cl.maxBody)
		last.Err = err
		c.metrics.callRefused(refusalReason(err))
		return backoff.Permanent(err)
	}
	return nil
}

// refuse ends a call that a guard stopped before it was sent.
func (c *Client) refuse(ctx context.Context, cl *call, err error) error {
	c.metrics.callRefused(refusalReason(err))
	c.logger.WarnContext(ctx, "outbound call refused", "key", cl.key, "method", cl.method, "target", cl.target, "error", err)
	return backoff.Permanent(err)
}

// readBody reads at most limit bytes of the body into result, flags the
// rest as truncated and digests what was read.
func readBody(resp *http.Response, limit int64, result *Result) error {
	defer func() { _ = resp.Body.Close() }()
	result.Status = resp.StatusCode
	result.Header = resp.Header
	result.URL = resp.Request.URL.String()
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(min(resp.ContentLength, limit)))
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	body := buf.Bytes()
	if int64(len(body)) > limit {
		body = body[:limit]
		result.Truncated = true
	}
	sum := sha256.Sum256(body)
	result.Body = body
	result.BodySHA256 = hex.EncodeToString(sum[:])
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// failure is a transport error classified: err no longer quotes the URL
// (net/http's errors do, query secrets included), outcome is what the
// breaker hears, and retry says whether trying again could help.
type failure struct {
	err     error
	outcome attemptOutcome
	retry   bool
}

func (c *Client) classify(ctx, actx context.Context, err error) failure {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, ErrBlockedAddress), errors.Is(err, ErrTooManyRedirects),
		errors.Is(err, ErrForbiddenURL), errors.Is(err, ErrForbiddenRedirect):
		return failure{err: err, outcome: outcomeNeutral}
	case ctx.Err() != nil && context.Cause(ctx) == errCallTimeout:
		return failure{err: fmt.Errorf("%w: call took over %s: %w", ErrTimeout, c.cfg.Timeout, err), outcome: outcomeFailure}
	case ctx.Err() != nil:
		return failure{err: context.Cause(ctx), outcome: outcomeNeutral}
	case context.Cause(actx) == errAttemptTimeout:
		return failure{err: fmt.Errorf("%w: attempt took over %s: %w", ErrTimeout, c.cfg.AttemptTimeout, err), outcome: outcomeFailure, retry: true}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failure{err: fmt.Errorf("%w: %w", ErrTimeout, err), outcome: outcomeFailure, retry: true}
	}
	return failure{err: err, outcome: outcomeFailure, retry: true}
}

func (c *Client) logAttempt(ctx context.Context, cl *call, n, status int, took time.Duration, err error) {
	if !c.logger.Enabled(ctx, slog.LevelDebug) && err == nil {
		return
	}
	attrs := []any{"key", cl.key, "method", cl.method, "target", cl.target, "attempt", n, "duration", took}
	if err != nil {
		c.logger.InfoContext(ctx, "outbound attempt failed", append(attrs, "error", err)...)
		return
	}
	c.logger.DebugContext(ctx, "outbound attempt", append(attrs, "status", status)...)
}

// outcomeLabel names a failed attempt's outcome for metrics.
func outcomeLabel(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	case refusalReason(err) != "other":
		return "refused"
	default:
		return "network"
	}
}

// refusalReason names the guard behind err for metrics.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrBlockedAddress):
		return "blocked_address"
	case errors.Is(err, ErrCircuitOpen):
		return "circuit_open"
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrTooManyRedirects):
		return "too_many_redirects"
	case errors.Is(err, ErrForbiddenURL), errors.Is(err, ErrForbiddenRedirect):
		return "forbidden_url"
	case errors.Is(err, ErrRequestTooLarge):
		return "request_too_large"
	case errors.Is(err, ErrResponseTooLarge):
		return "response_too_large"
	default:
		return "other"
	}
}
