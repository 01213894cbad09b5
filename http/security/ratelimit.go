package security

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/apiq/apiq/http/apierror"
)

// RateConfig is a token bucket: Rate requests per second on average,
// Burst at once.
type RateConfig struct {
	Rate  float64
	Burst int
}

// Validate reports every problem of the configuration.
func (c RateConfig) Validate() error {
	var errs []error
	if c.Rate <= 0 {
		errs = append(errs, errors.New("security: rate must be positive"))
	}
	if c.Burst <= 0 {
		errs = append(errs, errors.New("security: burst must be positive"))
	}
	return errors.Join(errs...)
}

// Limiter keeps one token bucket per key (a tenant, a client address);
// buckets idle long enough to be full again are forgotten.
type Limiter struct {
	cfg   RateConfig
	now   func() time.Time
	mu    sync.Mutex
	keys  map[string]*bucket
	sweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// Decision is the outcome of one Take.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until the next request is allowed, when refused
}

// NewLimiter returns a Limiter; now is the clock (time.Now when nil).
func NewLimiter(cfg RateConfig, now func() time.Time) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, now: now, keys: map[string]*bucket{}}, nil
}

// Take spends one token of key's bucket when there is one.
func (l *Limiter) Take(key string) Decision {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	b, ok := l.keys[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.keys[key] = b
	}
	b.used = now
	d := Decision{Limit: l.cfg.Burst}
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		d.RetryAfter = delay
	} else {
		d.Allowed = true
	}
	tokens := b.lim.TokensAt(now)
	d.Remaining = max(0, int(math.Floor(tokens)))
	d.Reset = time.Duration((float64(l.cfg.Burst) - tokens) / l.cfg.Rate * float64(time.Second))
	return d
}

// forgetIdle drops buckets that have refilled, at most once a minute.
func (l *Limiter) forgetIdle(now time.Time) {
	if now.Sub(l.sweep) < time.Minute {
		return
	}
	l.sweep = now
	full := time.Duration(float64(l.cfg.Burst) / l.cfg.Rate * float64(time.Second))
	for k, b := range l.keys {
		if now.Sub(b.used) > full {
			delete(l.keys, k)
		}
	}
}

// Middleware limits requests by key(c); an empty key is not limited. It
// sets RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset on every
// limited response and refuses with 429 rate_limited and Retry-After.
func (l *Limiter) Middleware(scope string, key func(*gin.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		k := key(c)
		if k == "" {
			c.Next()
			return
		}
		d := l.Take(scope + ":" + k)
		SetRateLimitHeaders(c, d.Limit, d.Remaining, d.Reset)
		if !d.Allowed {
			AbortTooManyRequests(c, scope, d.RetryAfter, "request rate limit exceeded")
			return
		}
		c.Next()
	}
}

// SetRateLimitHeaders writes the IETF RateLimit-* headers.
func SetRateLimitHeaders(c *gin.Context, limit, remaining int, reset time.Duration) {
	h := c.Writer.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("RateLimit-Reset", itoa(seconds(reset)))
}

// AbortTooManyRequests answers 429 rate_limited with Retry-After and a
// body naming the limit that was hit and when to retry.
func AbortTooManyRequests(c *gin.Context, scope string, retryAfter time.Duration, message string) {
	secs := max(1, seconds(retryAfter))
	c.Header("Retry-After", itoa(secs))
	apierror.Abort(c, apierror.New(http.StatusTooManyRequests, apierror.CodeRateLimited, message).
		WithDetails(map[string]any{"limit": scope, "retry_after_seconds": secs}))
}

// seconds rounds a duration up to whole seconds.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func itoa(n int) string { return strconv.Itoa(n) }
