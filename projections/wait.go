package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
)

// ErrProjectionTimeout is returned by WaitForPosition when the projectors did
// not reach the position in time (the HTTP layer answers 504
// projection_timeout).
var ErrProjectionTimeout = errors.New("projection timeout")

// ErrUnknownProjector is returned for a projector name the runner does not run.
var ErrUnknownProjector = errors.New("unknown projector")

// DefaultWaitTimeout is how long WaitForPosition waits by default.
const DefaultWaitTimeout = 5 * time.Second

// WaiterConfig configures a Waiter.
type WaiterConfig struct {
	// Pool holds projection_checkpoints.
	Pool *pgxpool.Pool
	// Projectors are the names WaitForPosition knows; it waits for all of
	// them when called without names.
	Projectors []string
	// Timeout bounds each wait (default 5 s).
	Timeout time.Duration
	// PollInterval is how often the checkpoint table is read while waiting,
	// for projectors running in other processes (default 50 ms).
	PollInterval time.Duration
}

func (c *WaiterConfig) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultWaitTimeout
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
}

// Validate lists every problem of the configuration.
func (c WaiterConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is required"))
	}
	if len(c.Projectors) == 0 {
		errs = append(errs, errors.New("at least one projector name is required"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive"))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, errors.New("poll interval must be positive"))
	}
	return errors.Join(errs...)
}

// Waiter gives read-your-writes: it tells a query when the projectors have
// applied the event at a position. Commits in this process reach it at once
// (Advanced); commits elsewhere are seen by polling the checkpoint table.
// Checkpoints only move forward, so what it has seen stays true.
type Waiter struct {
	cfg WaiterConfig

	mu      sync.Mutex
	reached map[string]eventstore.Position
	// changed is closed (and replaced) whenever reached moves.
	changed chan struct{}
}

// NewWaiter returns a waiter for cfg.Projectors.
func NewWaiter(cfg WaiterConfig) (*Waiter, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projection waiter: %w", err)
	}
	return &Waiter{cfg: cfg, reached: map[string]eventstore.Position{}, changed: make(chan struct{})}, nil
}

// Advanced records that projector name's checkpoint reached pos and wakes
// the waiters.
func (w *Waiter) Advanced(name string, pos eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos.Compare(w.reached[name]) <= 0 {
		return
	}
	w.reached[name] = pos
	close(w.changed)
	w.changed = make(chan struct{})
}

// WaitForPosition returns nil once every named projector (every projector
// when no name is given) has applied the event at pos: its checkpoint is at
// or after pos. It returns an error wrapping ErrProjectionTimeout after the
// configured timeout, and ctx's error when ctx ends first.
func (w *Waiter) WaitForPosition(ctx context.Context, pos eventstore.Position, names ...string) error {
	if len(names) == 0 {
		names = w.cfg.Projectors
	}
	for _, n := range names {
		if !slices.Contains(w.cfg.Projectors, n) {
			return fmt.Errorf("wait for %s: %w", n, ErrUnknownProjector)
		}
	}
	if pos.IsZero() {
		return nil
	}
	deadline := time.NewTimer(w.cfg.Timeout)
	defer deadline.Stop()
	poll := time.NewTicker(w.cfg.PollInterval)
	defer poll.Stop()
	readTable := true
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for position %s: %w", pos, err)
		}
		behind, changed := w.behind(pos, names)
		if len(behind) == 0 {
			return nil
		}
		if readTable {
			readTable = false
			if err := w.readCheckpoints(ctx, behind); err != nil {
				return fmt.Errorf("wait for position %s: %w", pos, err)
			}
			continue
		}
		select {
		case <-changed:
		case <-poll.C:
			readTable = true
		case <-deadline.C:
			return fmt.Errorf("projectors %v did not reach position %s within %s: %w",
				behind, pos, w.cfg.Timeout, ErrProjectionTimeout)
		case <-ctx.Done():
			return fmt.Errorf("wait for position %s: %w", pos, ctx.Err())
		}
	}
}

// behind returns the projectors not yet at pos and the channel that signals
// the next advance.
func (w *Waiter) behind(pos eventstore.Position, names []string) ([]string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range names {
		if w.reached[n].Compare(pos) < 0 {
			out = append(out, n)
		}
	}
	return out, w.changed
}

// readCheckpoints folds the stored checkpoints of names into what the
// waiter has seen.
func (w *Waiter) readCheckpoints(ctx context.Context, names []string) error {
	rows, err := w.cfg.Pool.Query(ctx, `
		SELECT projector, commit_position, prepare_position
		  FROM projection_checkpoints WHERE projector = ANY ($1)`, names)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name            string
			commit, prepare int64
		)
		if err := rows.Scan(&name, &commit, &prepare); err != nil {
			return fmt.Errorf("read checkpoints: %w", err)
		}
		w.Advanced(name, eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	return nil
}
