package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// BreakerState is a key's circuit breaker state: "closed", "open" or "half-open".
type BreakerState string

// The breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
)

// attemptOutcome is what one attempt tells its key's breaker.
type attemptOutcome int

const (
	outcomeSuccess attemptOutcome = iota
	outcomeFailure                // the remote is unwell: network error, timeout, 5xx
	outcomeNeutral                // says nothing about the remote: refused locally, cancelled by the caller, 429
)

var (
	errRemoteFailure = errors.New("remote failure")
	errNeutral       = errors.New("neutral outcome")
)

// keyGuards holds one rate limiter and one circuit breaker per key, created
// on first use.
type keyGuards struct {
	cfg     Config
	logger  *slog.Logger
	metrics *Metrics

	mu    sync.Mutex
	byKey map[string]*keyGuard
}

type keyGuard struct {
	limiter  *rate.Limiter                              // nil when unlimited
	breaker  *gobreaker.TwoStepCircuitBreaker[struct{}] // nil when disabled
	lastUsed time.Time                                  // guarded by keyGuards.mu
}

// Keys default to URL origins, so a tenant fetching documents from many
// hosts would grow the map without end: past sweepAbove keys, keys idle for
// idleAfter with a closed breaker are dropped (a dropped key starts again
// with a full bucket and a closed breaker, which is what it had).
const (
	sweepAbove = 10_000
	idleAfter  = 10 * time.Minute
)

func newKeyGuards(cfg Config, logger *slog.Logger, metrics *Metrics) *keyGuards {
	return &keyGuards{cfg: cfg, logger: logger, metrics: metrics, byKey: map[string]*keyGuard{}}
}

func (k *keyGuards) get(key string) *keyGuard {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if g, ok := k.byKey[key]; ok {
		g.lastUsed = now
		return g
	}
	if len(k.byKey) >= sweepAbove {
		k.sweep(now)
	}
	g := &keyGuard{lastUsed: now}
	if !k.cfg.RateLimit.Unlimited {
		g.limiter = rate.NewLimiter(rate.Limit(k.cfg.RateLimit.PerSecond), k.cfg.RateLimit.Burst)
	}
	if !k.cfg.Breaker.Disabled {
		g.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:        key,
			MaxRequests: k.cfg.Breaker.HalfOpenProbes,
			Interval:    k.cfg.Breaker.Interval,
			Timeout:     k.cfg.Breaker.OpenTimeout,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= k.cfg.Breaker.ConsecutiveFailures
			},
			IsExcluded: func(err error) bool { return errors.Is(err, errNeutral) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				k.logger.Info("outbound circuit breaker changed", "key", name, "from", from.String(), "to", to.String())
				k.metrics.breakerChanged(to.String())
			},
		})
	}
	k.byKey[key] = g
	return g
}

// sweep drops idle keys whose breaker is closed; k.mu must be held.
func (k *keyGuards) sweep(now time.Time) {
	for key, g := range k.byKey {
		if now.Sub(g.lastUsed) > idleAfter && g.state() == BreakerClosed {
			delete(k.byKey, key)
		}
	}
}

// state reports key's breaker state without creating the key.
func (k *keyGuards) state(key string) BreakerState {
	k.mu.Lock()
	g, ok := k.byKey[key]
	k.mu.Unlock()
	if !ok {
		return BreakerClosed
	}
	return g.state()
}

func (k *keyGuards) forget(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.byKey, key)
}

// wait takes a rate-limit token, sleeping for it unless the sleep would
// outlast ctx's deadline: then it gives the token back and says so at once.
func (g *keyGuard) wait(ctx context.Context) error {
	if g.limiter == nil {
		return nil
	}
	r := g.limiter.Reserve()
	delay := r.Delay()
	if delay == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		r.Cancel()
		return fmt.Errorf("%w: next slot in %s, after the deadline", ErrRateLimited, delay.Round(time.Millisecond))
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return context.Cause(ctx)
	}
}

// allow asks the breaker for permission to attempt; done reports the outcome.
func (g *keyGuard) allow() (done func(attemptOutcome), err error) {
	if g.breaker == nil {
		return func(attemptOutcome) {}, nil
	}
	report, err := g.breaker.Allow()
	if err != nil {
		return nil, err
	}
	return func(o attemptOutcome) {
		switch o {
		case outcomeSuccess:
			report(nil)
		case outcomeFailure:
			report(errRemoteFailure)
		default:
			report(errNeutral)
		}
	}, nil
}

func (g *keyGuard) state() BreakerState {
	if g.breaker == nil {
		return BreakerClosed
	}
	switch g.breaker.State() {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	default:
		return BreakerClosed
	}
}
