package outbound

import (
	"io"
	"net/http"
	"time"
)

// DefaultIdempotencyHeader is the header that carries Request.IdempotencyKey
// unless the request names another.
const DefaultIdempotencyHeader = "Idempotency-Key"

// Request is one outbound call.
type Request struct {
	// Method defaults to GET.
	Method string
	// URL is absolute, http or https, without user info.
	URL string
	// Header is copied, never modified.
	Header http.Header
	// Body is read once and buffered (up to Config.MaxRequestBytes) so that
	// retries and 307/308 redirects can send it again; nil means no body.
	Body io.Reader
	// Key groups calls under one rate limiter and circuit breaker (a
	// connection id); it defaults to the URL's origin.
	Key string
	// NonIdempotent marks a request that must not be repeated although its
	// method is idempotent (a PUT or DELETE with side effects beyond itself).
	NonIdempotent bool
	// IdempotencyKey, when set, is sent on every attempt in
	// IdempotencyHeader and makes a non-idempotent request retryable.
	IdempotencyKey string
	// IdempotencyHeader names the header for IdempotencyKey (default
	// DefaultIdempotencyHeader).
	IdempotencyHeader string
	// SecretHeaders name request headers that carry credentials besides the
	// usual ones (Authorization, Cookie, Proxy-Authorization, X-Api-Key):
	// they are dropped when a redirect leaves the origin.
	SecretHeaders []string
	// SecretQueryParams name query parameters that carry credentials: they
	// are dropped when a redirect leaves the origin and never logged.
	SecretQueryParams []string
	// MaxAttempts, when positive, lowers Config.Retry.MaxAttempts for this
	// call: 1 makes a single attempt, for a caller that schedules its own
	// retries (the execution engine records each attempt durably).
	MaxAttempts int
	// MaxResponseBytes overrides Config.MaxResponseBytes for this call.
	MaxResponseBytes int64
	// AllowTruncated accepts a body cut at the cap: the Result is flagged
	// Truncated instead of the call failing with ErrResponseTooLarge.
	AllowTruncated bool
}

// Result is what a call produced. It reports the last attempt's response
// and every attempt made; it is returned alongside most errors too, so that
// failed calls can be recorded.
type Result struct {
	// Status is the last response's status code (0 when no response came).
	Status int
	// Header is the last response's headers.
	Header http.Header
	// Body is the last response's body, at most the configured cap.
	Body []byte
	// Truncated says the body went on beyond the cap and was cut.
	Truncated bool
	// BodySHA256 is the hex SHA-256 digest of Body, the bytes read.
	BodySHA256 string
	// URL is where the last response came from, after redirects. It may hold
	// secret query parameters: scrub it before storing it.
	URL string
	// Attempts lists every attempt in order.
	Attempts []Attempt
	// Duration covers the whole call: attempts and the waits between them.
	Duration time.Duration
	// RetryAfter is the wait the last response asked for (Retry-After on a
	// retryable status) when the caller did not wait it out: retries were
	// exhausted, not allowed, or the wait exceeded RetryConfig.MaxRetryAfter.
	// A scheduler can retry later with it.
	RetryAfter time.Duration
}

// Attempt is one try within a call.
type Attempt struct {
	// Status is the response status (0 when the attempt got no response).
	Status int
	// Err is why the attempt failed, if it did.
	Err error
	// Duration runs from the start of the request to the last body byte.
	Duration time.Duration
	// Wait is how long the caller waited after this attempt before the next.
	Wait time.Duration
}
