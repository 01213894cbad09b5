// Package quota keeps per-tenant quotas (API calls and executions per hour,
// LLM tokens per day) in PostgreSQL counters that hold across processes.
package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Kind names a quota.
type Kind string

// The quotas of a tenant.
const (
	APICalls   Kind = "api_calls"  // per hour
	Executions Kind = "executions" // per hour
	LLMTokens  Kind = "llm_tokens" // per day
)

// ErrExceeded is returned (as *ExceededError) when a consumption would
// take a tenant past its limit; nothing is consumed then.
var ErrExceeded = errors.New("quota exceeded")

// ExceededError says which quota was hit and when its window ends.
type ExceededError struct {
	Kind  Kind
	Usage Usage
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("%s quota of %d exceeded until %s", e.Kind, e.Usage.Limit, e.Usage.Reset.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrExceeded) true.
func (e *ExceededError) Unwrap() error { return ErrExceeded }

// Usage is a quota's state after a consumption.
type Usage struct {
	Limit     int64 // 0: unlimited
	Used      int64
	Remaining int64
	Reset     time.Time // end of the current window
}

// Quotas checks and consumes a tenant's quotas; the executions and LLM
// features call it before they run and spend.
type Quotas interface {
	// Consume adds n to the tenant's counter of kind, or returns an
	// *ExceededError (nothing consumed) when that would pass the limit.
	Consume(ctx context.Context, tenantID string, kind Kind, n int64) (Usage, error)
}

// Limits are the quotas of every tenant; 0 means unlimited.
type Limits struct {
	APICallsPerHour   int64
	ExecutionsPerHour int64
	LLMTokensPerDay   int64
}

// Validate reports every problem of the limits.
func (l Limits) Validate() error {
	var errs []error
	for name, v := range map[string]int64{"APICallsPerHour": l.APICallsPerHour,
		"ExecutionsPerHour": l.ExecutionsPerHour, "LLMTokensPerDay": l.LLMTokensPerDay} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("quota: %s must not be negative", name))
		}
	}
	return errors.Join(errs...)
}

// limit returns kind's limit and window.
func (l Limits) limit(kind Kind) (int64, time.Duration, error) {
	switch kind {
	case APICalls:
		return l.APICallsPerHour, time.Hour, nil
	case Executions:
		return l.ExecutionsPerHour, time.Hour, nil
	case LLMTokens:
		return l.LLMTokensPerDay, 24 * time.Hour, nil
	}
	return 0, 0, fmt.Errorf("quota: unknown kind %q", kind)
}

// Store is Quotas on the quota_usage table.
type Store struct {
	pool   *pgxpool.Pool
	limits Limits
	now    func() time.Time
}

// NewStore returns a Store; now is the clock (time.Now when nil).
func NewStore(pool *pgxpool.Pool, limits Limits, now func() time.Time) (*Store, error) {
	var errs []error
	if pool == nil {
		errs = append(errs, errors.New("quota: pool is required"))
	}
	errs = append(errs, limits.Validate())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, limits: limits, now: now}, nil
}

// Limited reports whether kind has a limit at all.
func (s *Store) Limited(kind Kind) bool {
	limit, _, err := s.limits.limit(kind)
	return err == nil && limit > 0
}

// Consume implements Quotas with one conditional upsert: the counter
// grows only while it stays within the limit.
func (s *Store) Consume(ctx context.Context, tenantID string, kind Kind, n int64) (Usage, error) {
	limit, window, err := s.limits.limit(kind)
	if err != nil {
		return Usage{}, err
	}
	if n < 0 {
		return Usage{}, fmt.Errorf("quota: consume %d %s: negative amount", n, kind)
	}
	start := s.now().UTC().Truncate(window)
	u := Usage{Limit: limit, Reset: start.Add(window)}
	if limit == 0 {
		return u, nil
	}
	if n > limit {
		u.Used = s.used(ctx, tenantID, kind, start)
		u.Remaining = max(0, limit-u.Used)
		return u, &ExceededError{Kind: kind, Usage: u}
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO quota_usage (tenant_id, kind, window_start, used) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, kind, window_start) DO UPDATE SET used = quota_usage.used + EXCLUDED.used
		WHERE quota_usage.used + EXCLUDED.used <= $5
		RETURNING used`, tenantID, string(kind), start, n, limit).Scan(&u.Used)
	if errors.Is(err, pgx.ErrNoRows) {
		u.Used = s.used(ctx, tenantID, kind, start)
		u.Remaining = max(0, limit-u.Used)
		return u, &ExceededError{Kind: kind, Usage: u}
	}
	if err != nil {
		return Usage{}, fmt.Errorf("consume %s quota of tenant %s: %w", kind, tenantID, err)
	}
	u.Remaining = limit - u.Used
	return u, nil
}

// Charge adds n to the tenant's counter of kind even past the limit: it
// records what was spent already (the LLM tokens a model call used), so
// that the next Consume is refused until the window ends.
func (s *Store) Charge(ctx context.Context, tenantID string, kind Kind, n int64) (Usage, error) {
	limit, window, err := s.limits.limit(kind)
	if err != nil {
		return Usage{}, err
	}
	if n < 0 {
		return Usage{}, fmt.Errorf("quota: charge %d %s: negative amount", n, kind)
	}
	start := s.now().UTC().Truncate(window)
	u := Usage{Limit: limit, Reset: start.Add(window)}
	if limit == 0 {
		return u, nil
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO quota_usage (tenant_id, kind, window_start, used) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, kind, window_start) DO UPDATE SET used = quota_usage.used + EXCLUDED.used
		RETURNING used`, tenantID, string(kind), start, n).Scan(&u.Used)
	if err != nil {
		return Usage{}, fmt.Errorf("charge %s quota of tenant %s: %w", kind, tenantID, err)
	}
	u.Remaining = max(0, limit-u.Used)
	return u, nil
}

// used reads a counter, 0 when it cannot.
func (s *Store) used(ctx context.Context, tenantID string, kind Kind, start time.Time) int64 {
	var used int64
	_ = s.pool.QueryRow(ctx, `SELECT used FROM quota_usage WHERE tenant_id = $1 AND kind = $2 AND window_start = $3`,
		tenantID, string(kind), start).Scan(&used)
	return used
}

// Prune deletes the counters of windows (at most a day long) that started
// more than a day before cutoff.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM quota_usage WHERE window_start < $1`, cutoff.Add(-24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("prune quota counters: %w", err)
	}
	return tag.RowsAffected(), nil
}
