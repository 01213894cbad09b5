package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiq/apiq/adapters/eventstore"
)

// RunnerConfig configures a Runner. Pool, Feed and Projectors are required;
// the rest have defaults.
type RunnerConfig struct {
	// Pool holds the read models and projection_checkpoints.
	Pool *pgxpool.Pool
	// Feed is the global event feed.
	Feed eventstore.Feed
	// Projectors are run, one consumer group each.
	Projectors []Projector
	// Logger (slog.Default when nil).
	Logger *slog.Logger
	// Registerer receives the metrics (kept private when nil).
	Registerer prometheus.Registerer

	// BatchSize, PollInterval, BackoffInitial, BackoffMax, StallAfter and
	// CommitTimeout configure each projector's Subscriber (see SubscriberConfig).
	BatchSize      int
	PollInterval   time.Duration
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	StallAfter     int
	CommitTimeout  time.Duration
	// HandlerTimeout bounds one handler attempt (default 10 s): each of its
	// statements on the server, and the whole attempt a second later.
	HandlerTimeout time.Duration
	// WaitTimeout bounds WaitForPosition (default 5 s).
	WaitTimeout time.Duration
	// LagInterval is how often the lag metric is refreshed (default 5 s).
	LagInterval time.Duration
	// LagCap is the most events counted for a projector's lag (default 100,000).
	LagCap int64
	// RebuildPageSize is how many events a rebuild reads per page and applies
	// per transaction (default 2,000).
	RebuildPageSize int
}

func (c *RunnerConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = 10 * time.Second
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.LagInterval == 0 {
		c.LagInterval = 5 * time.Second
	}
	if c.LagCap == 0 {
		c.LagCap = 100_000
	}
	if c.RebuildPageSize == 0 {
		c.RebuildPageSize = 2000
	}
}

// Validate lists every problem of the configuration.
func (c RunnerConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is required"))
	}
	if c.Feed == nil {
		errs = append(errs, errors.New("feed is required"))
	}
	if len(c.Projectors) == 0 {
		errs = append(errs, errors.New("at least one projector is required"))
	}
	seen := map[string]bool{}
	for i, p := range c.Projectors {
		if p == nil {
			errs = append(errs, fmt.Errorf("projector %d is nil", i))
			continue
		}
		if err := validateProjectorName(p.Name()); err != nil {
			errs = append(errs, err)
		}
		if seen[p.Name()] {
			errs = append(errs, fmt.Errorf("projector %q appears twice", p.Name()))
		}
		seen[p.Name()] = true
	}
	if c.BatchSize < 0 || c.BatchSize > maxBatchSize {
		errs = append(errs, fmt.Errorf("batch size %d outside 1..%d", c.BatchSize, maxBatchSize))
	}
	if c.PollInterval < 0 || c.BackoffInitial < 0 || c.BackoffMax < 0 || c.CommitTimeout < 0 || c.StallAfter < 0 {
		errs = append(errs, errors.New("poll interval, backoff, commit timeout and stall-after must not be negative"))
	}
	if c.HandlerTimeout <= 0 || c.WaitTimeout <= 0 || c.LagInterval <= 0 {
		errs = append(errs, errors.New("handler timeout, wait timeout and lag interval must be positive"))
	}
	if c.LagCap < 1 {
		errs = append(errs, errors.New("lag cap must be positive"))
	}
	if c.RebuildPageSize < 1 {
		errs = append(errs, errors.New("rebuild page size must be positive"))
	}
	return errors.Join(errs...)
}

// projectorName keeps schema names ("rm_" + name + "__rebuild_" + 8 hex
// digits) within PostgreSQL's 63-byte identifiers and unambiguous.
var projectorName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

func validateProjectorName(name string) error {
	if !projectorName.MatchString(name) || strings.Contains(name, "__") || strings.HasSuffix(name, "_") {
		return fmt.Errorf("projector name %q: want 1-40 lower-case letters, digits and single inner underscores", name)
	}
	return nil
}

// Runner runs projectors on a Watermill router, one consumer group
// (Subscriber) per projector, and rebuilds, reports on and waits for them.
type Runner struct {
	cfg        RunnerConfig
	byName     map[string]Projector
	metrics    *Metrics
	waiter     *Waiter
	logger     *slog.Logger
	running    atomic.Bool
	tableCache atomic.Pointer[string]
}

// NewRunner checks cfg and registers the metrics.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projection runner: %w", err)
	}
	metrics, err := NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, byName: map[string]Projector{}, metrics: metrics, logger: cfg.Logger}
	names := make([]string, 0, len(cfg.Projectors))
	for _, p := range cfg.Projectors {
		r.byName[p.Name()] = p
		names = append(names, p.Name())
		metrics.track(p.Name())
	}
	r.waiter, err = NewWaiter(WaiterConfig{Pool: cfg.Pool, Projectors: names, Timeout: cfg.WaitTimeout})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Waiter is the runner's read-your-writes waiter, told at once of every
// commit this runner makes.
func (r *Runner) Waiter() *Waiter { return r.waiter }

// WaitForPosition waits until the named projectors (all when none is named)
// have applied the event at pos; see Waiter.WaitForPosition.
func (r *Runner) WaitForPosition(ctx context.Context, pos eventstore.Position, names ...string) error {
	return r.waiter.WaitForPosition(ctx, pos, names...)
}

// Run prepares every projector (creating its schema and tables, rebuilding
// it first when its stored version differs from its Version or it has never
// been built) and then applies the feed until ctx ends. It returns nil on a
// clean stop.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("projection runner: already running")
	}
	defer r.running.Store(false)
	for _, p := range r.cfg.Projectors {
		if err := r.prepare(ctx, p); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}

	router, err := message.NewRouter(message.RouterConfig{}, watermill.NewSlogLoggerWithLevelMapping(
		r.logger.With("component", "projection-router"),
		map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return fmt.Errorf("projection runner: %w", err)
	}
	// First added runs outermost.
	// The server's statement_timeout (HandlerTimeout) ends a slow statement
	// first, leaving the connection usable so the batch's prefix can still
	// commit; the context deadline, a grace period later, only ends handlers
	// stuck outside the database (pgx closes a connection whose context ends).
	router.AddMiddleware(recordOutcome, r.metrics.countHandlerErrors, middleware.Recoverer,
		middleware.Timeout(r.cfg.HandlerTimeout+handlerTimeoutGrace))
	for _, p := range r.cfg.Projectors {
		name := p.Name()
		sub, err := NewSubscriber(SubscriberConfig{
			Pool: r.cfg.Pool, Feed: r.cfg.Feed, Projector: p, Logger: r.logger, Metrics: r.metrics,
			BatchSize: r.cfg.BatchSize, PollInterval: r.cfg.PollInterval,
			BackoffInitial: r.cfg.BackoffInitial, BackoffMax: r.cfg.BackoffMax,
			StallAfter: r.cfg.StallAfter, CommitTimeout: r.cfg.CommitTimeout,
			StatementTimeout: r.cfg.HandlerTimeout,
			OnCommit:         func(pos eventstore.Position) { r.waiter.Advanced(name, pos) },
		})
		if err != nil {
			return fmt.Errorf("projection runner: %w", err)
		}
		router.AddConsumerHandler(name, name, sub, ApplyHandler(p))
	}

	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		r.reportLag(lagCtx)
	}()
	defer func() { stopLag(); <-lagDone }()

	r.logger.Info("projection runner started", "projectors", len(r.cfg.Projectors))
	if err := router.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("projection runner: %w", err)
	}
	r.logger.Info("projection runner stopped")
	return nil
}

// prepare makes p's read model ready for the live runner.
func (r *Runner) prepare(ctx context.Context, p Projector) error {
	reason, err := r.rebuildReason(ctx, p)
	if err != nil {
		return fmt.Errorf("prepare projector %s: %w", p.Name(), err)
	}
	if reason != "" {
		r.logger.Info("rebuilding projector before starting it", "projector", p.Name(), "reason", reason)
		// Another process starting at the same time may rebuild it first.
		stillNeeded := func(ctx context.Context) (bool, error) {
			reason, err := r.rebuildReason(ctx, p)
			return reason != "", err
		}
		return r.rebuild(ctx, p, stillNeeded)
	}
	if err := ensureTables(ctx, r.cfg.Pool, p, SchemaName(p)); err != nil {
		return fmt.Errorf("prepare projector %s: %w", p.Name(), err)
	}
	return nil
}

// rebuildReason says why p's read model must be rebuilt before it can run
// live ("" when it need not be).
func (r *Runner) rebuildReason(ctx context.Context, p Projector) (string, error) {
	sql, err := r.checkpointSQL(ctx)
	if err != nil {
		return "", err
	}
	cp, found, err := loadCheckpoint(ctx, r.cfg.Pool, sql, p.Name())
	if err != nil {
		return "", err
	}
	exists, err := schemaExists(ctx, r.cfg.Pool, SchemaName(p))
	if err != nil {
		return "", err
	}
	switch {
	case !found:
		return "never built", nil
	case cp.Version != p.Version():
		return fmt.Sprintf("stored version %d, code version %d", cp.Version, p.Version()), nil
	case !exists:
		return "schema " + SchemaName(p) + " missing", nil
	}
	return "", nil
}

// checkpointSQL returns the checkpoint statements, resolving the table once.
func (r *Runner) checkpointSQL(ctx context.Context) (checkpointSQL, error) {
	if t := r.tableCache.Load(); t != nil {
		return newCheckpointSQL(*t), nil
	}
	t, err := resolveCheckpointTable(ctx, r.cfg.Pool)
	if err != nil {
		return checkpointSQL{}, err
	}
	r.tableCache.Store(&t)
	return newCheckpointSQL(t), nil
}

// reportLag refreshes the lag and stalled metrics until ctx ends.
func (r *Runner) reportLag(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagInterval)
	defer t.Stop()
	for {
		statuses, err := r.Status(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("could not measure projection lag", "error", err)
		}
		for _, s := range statuses {
			r.metrics.setLag(s.Name, s.Lag)
			r.metrics.setStalled(s.Name, s.Status == StatusStalled)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// schemaExists reports whether a PostgreSQL schema exists.
func schemaExists(ctx context.Context, q querier, schema string) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up schema %s: %w", schema, err)
	}
	return exists, nil
}

// ensureTables creates schema (if needed) and runs p's idempotent DDL in it.
func ensureTables(ctx context.Context, q txBeginner, p Projector, schema string) error {
	ident := pgx.Identifier{schema}.Sanitize()
	tx, err := q.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; CREATE SCHEMA IF NOT EXISTS " + ident +
		"; SET LOCAL search_path = " + ident})
	if err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	defer rollback(ctx, tx)
	if ddl := strings.TrimSpace(p.Schema()); ddl != "" {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("create tables of %s in %s: %w", p.Name(), schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create tables of %s in %s: %w", p.Name(), schema, err)
	}
	return nil
}

// txBeginner is a pool or a connection.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// handlerTimeoutGrace is how much longer than HandlerTimeout a handler's
// context lives, so the server's statement timeout fires first.
const handlerTimeoutGrace = time.Second
