package outbound

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// fullJitter is exponential backoff with full jitter: before retry n it
// waits a uniformly random time in [0, min(max, base·2ⁿ)], which spreads the
// retries of many callers hit by one outage instead of synchronising them.
type fullJitter struct {
	base, max time.Duration
	retries   int
}

var _ backoff.BackOff = (*fullJitter)(nil)

// NextBackOff returns the wait before the next retry.
func (f *fullJitter) NextBackOff() time.Duration {
	ceiling := f.max
	if f.retries < 62 {
		if d := f.base << f.retries; d > 0 && d < f.max {
			ceiling = d
		}
	}
	f.retries++
	return rand.N(ceiling + 1)
}

// Reset starts the sequence again.
func (f *fullJitter) Reset() { f.retries = 0 }

// retryableStatus reports the statuses that say "try again later": 429 and
// the gateway/unavailable family, plus 500 when configured (a 500 is as often
// a deterministic bug as a transient fault).
func retryableStatus(status int, retry500 bool) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError:
		return retry500
	}
	return false
}

// parseRetryAfter reads a Retry-After value in either form RFC 9110 allows:
// delay-seconds or an HTTP-date (a date in the past means "now").
func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// idempotentMethod reports the methods RFC 9110 defines as idempotent;
// POST, PATCH and unknown methods are not.
func idempotentMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// retryStatusError marks an attempt whose response asks for another try; it
// carries the server's Retry-After for backoff.Retry when there was one.
type retryStatusError struct {
	status     int
	retryAfter *backoff.RetryAfterError
}

func (e *retryStatusError) Error() string { return "retryable status " + strconv.Itoa(e.status) }

// Unwrap exposes the Retry-After wait to backoff.Retry.
func (e *retryStatusError) Unwrap() error {
	if e.retryAfter == nil {
		return nil
	}
	return e.retryAfter
}
