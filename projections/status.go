package projections

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// ProjectorStatus is what `apiq projections status` shows for one projector.
type ProjectorStatus struct {
	Name string
	// Version is the read model's version in the database (0: never built);
	// CodeVersion is the running code's. They differ until a rebuild.
	Version     int
	CodeVersion int
	// Position is the checkpoint: the last event applied (or ignored).
	Position eventstore.Position
	// Lag counts the feed's events after Position, up to the runner's LagCap.
	Lag int64
	// Status is StatusRunning, StatusStalled or StatusNew.
	Status    string
	Failures  int
	LastError string
	UpdatedAt time.Time
}

// Status reports every projector of the runner, in configuration order.
func (r *Runner) Status(ctx context.Context) ([]ProjectorStatus, error) {
	sql, err := r.checkpointSQL(ctx)
	if err != nil {
		return nil, fmt.Errorf("projection status: %w", err)
	}
	out := make([]ProjectorStatus, 0, len(r.cfg.Projectors))
	for _, p := range r.cfg.Projectors {
		cp, found, err := loadCheckpoint(ctx, r.cfg.Pool, sql, p.Name())
		if err != nil {
			return out, fmt.Errorf("projection status: %w", err)
		}
		st := ProjectorStatus{Name: p.Name(), CodeVersion: p.Version(), Status: StatusNew}
		if found {
			st.Version, st.Position, st.Status = cp.Version, cp.Position, cp.Status
			st.Failures, st.LastError, st.UpdatedAt = cp.Failures, cp.LastError, cp.UpdatedAt
		}
		if st.Lag, err = r.countLag(ctx, st.Position); err != nil {
			return out, fmt.Errorf("projection status of %s: %w", p.Name(), err)
		}
		out = append(out, st)
	}
	return out, nil
}

// Lag returns each projector's lag in events (capped at LagCap), for
// readiness checks.
func (r *Runner) Lag(ctx context.Context) (map[string]int64, error) {
	statuses, err := r.Status(ctx)
	if err != nil {
		return nil, err
	}
	lag := make(map[string]int64, len(statuses))
	for _, s := range statuses {
		lag[s.Name] = s.Lag
	}
	return lag, nil
}

// EventCounter counts the feed's events after a position, stopping at
// limit. A Feed that implements it (an EventStoreDB feed, say) is asked for
// projector lag; otherwise the runner counts the PostgreSQL events table.
type EventCounter interface {
	CountAfter(ctx context.Context, after eventstore.Position, limit int64) (int64, error)
}

func (r *Runner) countLag(ctx context.Context, pos eventstore.Position) (int64, error) {
	if c, ok := r.cfg.Feed.(EventCounter); ok {
		n, err := c.CountAfter(ctx, pos, r.cfg.LagCap)
		if err != nil {
			return 0, fmt.Errorf("count events after %s: %w", pos, err)
		}
		return n, nil
	}
	return countLag(ctx, r.cfg.Pool, pos, r.cfg.LagCap)
}

// countLag counts the readable events of the PostgreSQL events table after
// pos in feed order, exactly, but stops counting at limit: the lag of a
// projector far behind is reported as limit. (The count walks the feed
// index, so its cost is bounded by limit.)
func countLag(ctx context.Context, q querier, pos eventstore.Position, limit int64) (int64, error) {
	commit, prepare, err := positionArgs(pos)
	if err != nil {
		return 0, err
	}
	var n int64
	err = q.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT 1 FROM events
			 WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
			   AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
			 LIMIT $3) behind`,
		strconv.FormatInt(commit, 10), prepare, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count events after %s: %w", pos, err)
	}
	return n, nil
}
