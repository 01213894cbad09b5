package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Limits of a projector transaction.
const (
	// maxSavepointsPerTx bounds the events of one savepoint transaction:
	// beyond 64 subtransactions PostgreSQL overflows its subxid cache and
	// every snapshot in the cluster gets slower.
	maxSavepointsPerTx = 50
	// maxBatchSize bounds the events of one pipelined transaction, which
	// holds the feed back for everyone while it is open.
	maxBatchSize = 1000
	// pipelineFlushAt is how many queued statements a pipelined transaction
	// sends per round trip.
	pipelineFlushAt = 500
	// quickRepoll is the first re-poll after a wake-up found nothing: an
	// older transaction still in flight may be holding the new event back.
	quickRepoll = 2 * time.Millisecond
	// backoffJitter randomises each backoff by ±50 %.
	backoffJitter = 0.5
	// cleanupTimeout bounds a rollback or a failure record after the
	// subscription's context ended.
	cleanupTimeout = 5 * time.Second
)

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Pool holds the read models and projection_checkpoints.
	Pool *pgxpool.Pool
	// Feed is the global event feed.
	Feed eventstore.Feed
	// Projector is the consumer group: its name is the only topic the
	// Subscriber serves and its schema (SchemaName) must exist.
	Projector Projector
	// Logger receives failures, stalls and recoveries (slog.Default when nil).
	Logger *slog.Logger
	// Metrics records commits and stalls (nothing when nil).
	Metrics *Metrics
	// BatchSize is the most events read and applied in one pipelined
	// transaction (default 100, at most 1000). After a failure, events are
	// applied one savepoint at a time, at most 50 per transaction.
	BatchSize int
	// PollInterval is how often the feed is polled when no wake-up arrives
	// (default 500 ms).
	PollInterval time.Duration
	// BackoffInitial and BackoffMax shape the exponential, jittered wait
	// between failed attempts (defaults 100 ms and 30 s).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// StallAfter is the number of consecutive failures at one event after
	// which the projector is reported stalled (default 5).
	StallAfter int
	// CommitTimeout bounds beginning, flushing and committing a batch
	// transaction (default 30 s).
	CommitTimeout time.Duration
	// StatementTimeout, when set, bounds every statement of a projector
	// transaction on the server (statement_timeout), including statements
	// queued by a handler and sent after it returned. The Runner sets it to
	// its HandlerTimeout.
	StatementTimeout time.Duration
	// OnCommit, when set, is called after each commit with the new checkpoint.
	OnCommit func(eventstore.Position)
}

func (c *SubscriberConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.PollInterval == 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = 100 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.StallAfter == 0 {
		c.StallAfter = 5
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 30 * time.Second
	}
}

// Validate lists every problem of the configuration.
func (c SubscriberConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is required"))
	}
	if c.Feed == nil {
		errs = append(errs, errors.New("feed is required"))
	}
	if c.Projector == nil {
		errs = append(errs, errors.New("projector is required"))
	} else if err := validateProjectorName(c.Projector.Name()); err != nil {
		errs = append(errs, err)
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchSize {
		errs = append(errs, fmt.Errorf("batch size %d outside 1..%d", c.BatchSize, maxBatchSize))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, errors.New("poll interval must be positive"))
	}
	if c.BackoffInitial <= 0 || c.BackoffMax < c.BackoffInitial {
		errs = append(errs, errors.New("backoff needs 0 < initial <= max"))
	}
	if c.StallAfter < 1 {
		errs = append(errs, errors.New("stall-after must be at least 1"))
	}
	if c.CommitTimeout <= 0 {
		errs = append(errs, errors.New("commit timeout must be positive"))
	}
	if c.StatementTimeout < 0 {
		errs = append(errs, errors.New("statement timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Subscriber is a Watermill subscriber for one consumer group (projector)
// over the event feed. It delivers the events after the projector's
// checkpoint one message at a time, each message carrying an open
// transaction (see MessageDelivery), and commits the read-model writes of a
// batch together with the advanced checkpoint. A nack rolls the attempt
// back to its savepoint, commits the successful prefix, ends the
// transaction and retries the event after a backoff; it never skips an event.
type Subscriber struct {
	cfg    SubscriberConfig
	name   string
	begin  string // BEGIN with the projector transaction's settings
	logger *slog.Logger

	mu      sync.Mutex
	closed  bool
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber for cfg.Projector.
func NewSubscriber(cfg SubscriberConfig) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projection subscriber: %w", err)
	}
	name := cfg.Projector.Name()
	return &Subscriber{
		cfg:    cfg,
		name:   name,
		begin:  projectorBeginSQL(SchemaName(cfg.Projector), cfg.StatementTimeout),
		logger: cfg.Logger.With("projector", name),
	}, nil
}

// projectorBeginSQL starts a projector transaction in one round trip.
// Asynchronous commit loses nothing: the read-model change and its
// checkpoint roll back together after a crash and are re-applied from the
// durable events.
func projectorBeginSQL(schema string, statementTimeout time.Duration) string {
	sql := "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL search_path = " + pgx.Identifier{schema}.Sanitize()
	if statementTimeout > 0 {
		sql += "; SET LOCAL statement_timeout = " + strconv.FormatInt(max(1, statementTimeout.Milliseconds()), 10)
	}
	return sql
}

// Subscribe starts delivering the projector's events; topic must be the
// projector's name. The channel closes when ctx ends or Close is called.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != s.name {
		return nil, fmt.Errorf("subscribe: subscriber of projector %s cannot serve topic %q", s.name, topic)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("subscribe: subscriber closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancels = append(s.cancels, cancel)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.consume(ctx, out)
	}()
	return out, nil
}

// Close ends every subscription and waits until their transactions are closed.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, cancel := range s.cancels {
		cancel()
	}
	s.cancels = nil
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// cursor is a subscription's view of its checkpoint.
type cursor struct {
	loaded     bool
	generation int64
	position   eventstore.Position
	// failures counts consecutive failed attempts at the current position.
	failures int
	stalled  bool
	// foreignVersion is the stored version that made this subscription stand
	// down (another process switched the read model to it), 0 if none.
	foreignVersion int
}

func (s *Subscriber) consume(ctx context.Context, out chan<- *message.Message) {
	wake := s.cfg.Feed.Wake(ctx)
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     s.cfg.BackoffInitial,
		RandomizationFactor: backoffJitter,
		Multiplier:          2,
		MaxInterval:         s.cfg.BackoffMax,
	}
	var (
		cur    cursor
		sql    checkpointSQL
		repoll time.Duration
	)
	for ctx.Err() == nil {
		if !cur.loaded {
			var err error
			if sql.lock == "" {
				sql, err = s.resolveSQL(ctx)
			}
			if err == nil {
				err = s.load(ctx, sql, &cur)
			}
			if err != nil {
				s.failed(ctx, sql, &cur, fmt.Errorf("load checkpoint: %w", err), nil)
				sleep(ctx, bo.NextBackOff())
				continue
			}
			if !cur.loaded { // read model owned by another version: stand down
				sleep(ctx, s.cfg.PollInterval)
				continue
			}
		}
		events, err := s.cfg.Feed.ReadAll(ctx, cur.position, s.cfg.BatchSize)
		if err != nil {
			if ctx.Err() == nil {
				s.failed(ctx, sql, &cur, fmt.Errorf("read feed: %w", err), nil)
				sleep(ctx, bo.NextBackOff())
			}
			continue
		}
		if len(events) == 0 {
			repoll = s.waitForEvents(ctx, wake, repoll)
			continue
		}
		repoll = 0
		o := s.process(ctx, out, sql, &cur, events)
		if o.applied > 0 {
			bo.Reset()
		}
		switch {
		case o.moved:
			cur.loaded = false
		case ctx.Err() != nil:
		case o.err != nil:
			s.failed(ctx, sql, &cur, o.err, o.event)
			sleep(ctx, bo.NextBackOff())
		}
	}
}

func (s *Subscriber) resolveSQL(ctx context.Context) (checkpointSQL, error) {
	table, err := resolveCheckpointTable(ctx, s.cfg.Pool)
	if err != nil {
		return checkpointSQL{}, err
	}
	return newCheckpointSQL(table), nil
}

// load reads the checkpoint, creating it for a projector that has none. It
// leaves cur unloaded while the stored version is not this projector's.
func (s *Subscriber) load(ctx context.Context, sql checkpointSQL, cur *cursor) error {
	cp, found, err := loadCheckpoint(ctx, s.cfg.Pool, sql, s.name)
	if err != nil {
		return err
	}
	if !found {
		if _, err := s.cfg.Pool.Exec(ctx, sql.insert, s.name, s.cfg.Projector.Version()); err != nil {
			return fmt.Errorf("create checkpoint of %s: %w", s.name, err)
		}
		cp = checkpoint{Version: s.cfg.Projector.Version(), Status: StatusRunning}
	}
	if cp.Version != s.cfg.Projector.Version() {
		if cur.foreignVersion != cp.Version {
			s.logger.Error("read model belongs to another projector version; not applying events until it is rebuilt",
				"stored_version", cp.Version, "version", s.cfg.Projector.Version())
			cur.foreignVersion = cp.Version
		}
		return nil
	}
	*cur = cursor{loaded: true, generation: cp.Generation, position: cp.Position,
		failures: cp.Failures, stalled: cp.Status == StatusStalled}
	s.cfg.Metrics.setStalled(s.name, cur.stalled)
	return nil
}

// holds reports whether the locked checkpoint row is still the one cur was
// loaded from (plus this subscription's own commits).
func (s *Subscriber) holds(cur *cursor, locked checkpoint) bool {
	return locked.Version == s.cfg.Projector.Version() && locked.Generation == cur.generation &&
		locked.Position == cur.position
}

// waitForEvents blocks until a wake-up or a poll is due and returns the
// next quick re-poll interval (0: poll at the normal rate).
func (s *Subscriber) waitForEvents(ctx context.Context, wake <-chan struct{}, repoll time.Duration) time.Duration {
	wait := s.cfg.PollInterval
	if repoll > 0 && repoll < wait {
		wait = repoll
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return 0
	case <-wake:
		return quickRepoll
	case <-t.C:
		if repoll > 0 && repoll*2 < s.cfg.PollInterval {
			return repoll * 2
		}
		return 0
	}
}

// failed records a failed attempt: in the checkpoint row (best effort, as
// the database may be what failed), in the log and in the stalled metric.
func (s *Subscriber) failed(ctx context.Context, sql checkpointSQL, cur *cursor, err error, ev *eventstore.RecordedEvent) {
	cur.failures++
	stalled := cur.failures >= s.cfg.StallAfter
	attrs := []any{"error", err, "failures", cur.failures, "position", cur.position.String()}
	if ev != nil {
		attrs = append(attrs, "event_type", ev.Type, "stream_id", ev.StreamID, "stream_version", ev.Version,
			"event_position", ev.Position.String())
	}
	switch {
	case stalled && !cur.stalled:
		s.logger.Error("projector stalled: it keeps retrying this event and never skips it", attrs...)
	case stalled:
		s.logger.Error("projector still stalled", attrs...)
	default:
		s.logger.Warn("projector attempt failed; retrying after backoff", attrs...)
	}
	cur.stalled = stalled
	s.cfg.Metrics.setStalled(s.name, stalled)
	if sql.failure == "" {
		return
	}
	status := StatusRunning
	if stalled {
		status = StatusStalled
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, dbErr := s.cfg.Pool.Exec(rctx, sql.failure, s.name, cur.failures, status, truncateError(err)); dbErr != nil {
		s.logger.Warn("could not record projector failure", "error", dbErr)
	}
}

// committed advances the cursor after a commit.
func (s *Subscriber) committed(cur *cursor, events []eventstore.RecordedEvent, started time.Time) {
	cur.position = events[len(events)-1].Position
	cur.failures = 0
	if cur.stalled {
		s.logger.Info("projector recovered", "position", cur.position.String())
		cur.stalled = false
		s.cfg.Metrics.setStalled(s.name, false)
	}
	s.cfg.Metrics.committed(s.name, len(events), time.Since(started))
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(cur.position)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
