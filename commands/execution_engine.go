package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/execution"
)

// Engine runs executions: a process manager on the command side. It
// claims work rows (PostgreSQL leases shared by every apiq serve process),
// folds each execution's stream, runs its next step, appends the outcome
// with the expected version and moves on, until the execution ends or
// waits for a retry. It makes no outbound call inside a transaction.
//
// Durability rule for a step's events: a call that may not be repeated (a
// non-idempotent method without an idempotency key) gets its
// execution.step_started appended — durably — before it is sent; after a
// crash such a step, started without an outcome, is held for attention
// rather than sent again. A repeatable call (GET, HEAD, OPTIONS, or any
// call carrying an Idempotency-Key) and the steps that call nothing get
// step_started and their outcome in one append after the work: if the
// process dies first, the step simply runs again.
//
// Batching rule: the events of such repeatable steps are held in memory
// and appended together with the next events that must be durable (a
// non-repeatable step_started, a failure, a retry, the end), or when
// maxHeldEvents are held or the oldest is maxHold old. A crash loses only
// held outcomes of repeatable steps, which then run again; it costs one
// commit per batch instead of one per step, and live readers see a
// batch at most maxHold late.
type Engine struct {
	d      ExecutionDeps
	owner  string
	wake   chan struct{}
	ops    *operationCache
	conns  *connCache
	mu     sync.Mutex
	active map[string]context.CancelFunc
}

// NewEngine needs Store, Pool, Blobs and Credentials.
func NewEngine(d ExecutionDeps) (*Engine, error) {
	if err := d.require("Engine", false); err != nil {
		return nil, err
	}
	d.ConnectionDeps = d.ConnectionDeps.withDefaults()
	if d.Config.Owner == "" {
		d.Config.Owner = uuid.NewString()
	}
	return &Engine{d: d, owner: d.Config.Owner, wake: make(chan struct{}, 1), ops: newOperationCache(),
		conns:  &connCache{byID: map[string]cachedConn{}},
		active: map[string]context.CancelFunc{}}, nil
}

// Owner is the name this process claims work under.
func (e *Engine) Owner() string { return e.owner }

// Signal asks the engine to look for work now.
func (e *Engine) Signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs executions until ctx ends, then waits for the
// executions it runs to stop (their leases lapse for another process).
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// One registration for the whole run: its channel receives after every
	// append until ctx ends (registering again would add a reader per wake).
	var feedWake <-chan struct{}
	if e.d.Feed != nil {
		feedWake = e.d.Feed.Wake(ctx)
	}
	renewEvery := e.d.Config.Lease / 3
	renewTick := time.NewTicker(renewEvery)
	defer renewTick.Stop()
	poll := time.NewTicker(e.d.Config.Poll)
	defer poll.Stop()
	var lastClaim time.Time
	for {
		e.claimAndRun(ctx, &wg)
		lastClaim = time.Now()
	wait:
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-feedWake:
			// Every append wakes the feed: claim at most every feedClaimGap
			// on its account (new work also signals the engine directly).
			if time.Since(lastClaim) < feedClaimGap {
				goto wait
			}
		case <-poll.C:
		case <-renewTick.C:
			e.renewLeases(ctx)
		}
	}
}

func (e *Engine) claimAndRun(ctx context.Context, wg *sync.WaitGroup) {
	e.mu.Lock()
	free := e.d.Config.Concurrency - len(e.active)
	e.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return
	}
	rows, err := claim(ctx, e.d.Pool, e.owner, e.d.Config.Lease, free)
	if err != nil {
		if ctx.Err() == nil {
			e.d.Logger.ErrorContext(ctx, "claim executions", "error", err)
		}
		return
	}
	for _, row := range rows {
		e.mu.Lock()
		_, running := e.active[row.ExecutionID]
		e.mu.Unlock()
		if running {
			// Its lease lapsed before a renewal (a stalled process) and this
			// process claimed it again: the run under way keeps it, now
			// renewed, rather than a second run racing it.
			continue
		}
		runCtx, cancel := context.WithCancel(ctx)
		e.mu.Lock()
		e.active[row.ExecutionID] = cancel
		e.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				e.mu.Lock()
				full := len(e.active) >= e.d.Config.Concurrency
				delete(e.active, row.ExecutionID)
				e.mu.Unlock()
				cancel()
				if full {
					// A slot is free again: claim what waited for one.
					e.Signal()
				}
			}()
			e.runClaimed(runCtx, row)
		}()
	}
}

// renewLeases extends every lease held; an execution whose lease was lost
// (another process took it over) is stopped before it appends again.
func (e *Engine) renewLeases(ctx context.Context) {
	e.mu.Lock()
	ids := make([]string, 0, len(e.active))
	for id := range e.active {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	held, err := renew(ctx, e.d.Pool, e.owner, e.d.Config.Lease, ids)
	if err != nil {
		e.d.Logger.ErrorContext(ctx, "renew execution leases", "error", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		if !held[id] {
			if cancel, ok := e.active[id]; ok {
				e.d.Logger.WarnContext(ctx, "execution lease lost", "execution_id", id)
				cancel()
			}
		}
	}
}

// feedClaimGap spaces the claims the feed's wake-ups cause.
const feedClaimGap = 50 * time.Millisecond

// orphanAge is how old a work row without a stream must be to be dropped
// (its start crashed between the row and the append).
const orphanAge = time.Minute

func (e *Engine) runClaimed(ctx context.Context, row claimed) {
	logger := e.d.Logger.With("execution_id", row.ExecutionID, "tenant_id", row.TenantID)
	due, err := e.drive(ctx, row)
	// Bookkeeping outlives a cancelled run context.
	bg := context.WithoutCancel(ctx)
	switch {
	case errors.Is(err, errStreamMissing):
		// claim takes a row without a stream only once it is orphanAge old
		// (its start crashed between the row and the append): drop it.
		logger.WarnContext(bg, "dropping an execution work row without a stream", "created_at", row.CreatedAt)
		err = finish(bg, e.d.Pool, e.owner, row.ExecutionID)
	case err != nil:
		if ctx.Err() == nil {
			logger.ErrorContext(ctx, "execution step", "error", err)
		}
		// Try again a little later (leases keep anyone else out meanwhile).
		if ctx.Err() == nil || bg.Err() == nil {
			err = release(bg, e.d.Pool, e.owner, row.ExecutionID, time.Now().Add(e.d.Config.RetryBase))
		}
	case due.IsZero():
		err = finish(bg, e.d.Pool, e.owner, row.ExecutionID)
	default:
		err = release(bg, e.d.Pool, e.owner, row.ExecutionID, due)
		e.signalAt(time.Until(due))
	}
	if err != nil {
		logger.ErrorContext(bg, "execution bookkeeping", "error", err)
	}
}

var errStreamMissing = errors.New("execution stream missing")

// signalAt wakes the engine after d, when a released row falls due
// (sooner than the next poll would notice).
func (e *Engine) signalAt(d time.Duration) {
	if d < e.d.Config.Poll {
		time.AfterFunc(max(d, 0)+time.Millisecond, e.Signal)
	}
}

// run is an execution being driven: its state, version and envelope.
type run struct {
	state   execution.State
	version int64
	started time.Time
	meta    Meta
	stream  string
	// conns holds the connections this claim uses (a connection changed
	// meanwhile is seen at a later claim, once ConnectionTTL has passed).
	conns map[string]loaded[connection.State]
	// held are events of repeatable steps already folded into state but
	// not appended yet (version is the stream's durable version); heldSince
	// is when the first was held.
	held      []domain.Event
	heldSince time.Time
}

// Batching bounds: at most maxHeldEvents events, held at most maxHold.
const (
	maxHeldEvents = 32
	maxHold       = 50 * time.Millisecond
)

// holdable reports whether events may wait for a later append: those of
// a repeatable step (step_started marked repeatable, then its success) or
// a skipped step. Anything else must be durable at once.
func holdable(events []domain.Event) bool {
	switch first := events[0].(type) {
	case execution.StepSkipped:
		return len(events) == 1
	case execution.StepStarted:
		if !first.Repeatable || len(events) != 2 {
			return false
		}
		_, ok := events[1].(execution.StepSucceeded)
		return ok
	}
	return false
}

// hold folds events into the run's state and keeps them for the next append.
func (e *Engine) hold(r *run, events []domain.Event) {
	if len(r.held) == 0 {
		r.heldSince = time.Now()
	}
	for _, ev := range events {
		r.state = execution.Evolve(r.state, ev)
	}
	r.held = append(r.held, events...)
}

// flush appends the held events, if any.
func (e *Engine) flush(ctx context.Context, r *run) error {
	if len(r.held) == 0 {
		return nil
	}
	return e.record(ctx, r, nil)
}

// drive runs steps until the execution ends (zero due) or waits for a
// retry (due is when).
func (e *Engine) drive(ctx context.Context, row claimed) (time.Time, error) {
	r, err := e.load(ctx, row.ExecutionID)
	if err != nil {
		return time.Time{}, err
	}
	for {
		if r.state.Status.Terminal() {
			return time.Time{}, nil
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		events, due, err := e.advance(ctx, r)
		if err != nil {
			return time.Time{}, err
		}
		if len(events) == 0 {
			if err := e.flush(ctx, r); err != nil {
				return time.Time{}, err
			}
			return due, nil
		}
		if holdable(events) && len(r.held)+len(events) <= maxHeldEvents &&
			(len(r.held) == 0 || time.Since(r.heldSince) < maxHold) {
			e.hold(r, events)
			continue
		}
		if err := e.record(ctx, r, events); err != nil {
			if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				// Someone else wrote (a cancellation): read the stream again.
				if r, err = e.load(ctx, row.ExecutionID); err != nil {
					return time.Time{}, err
				}
				continue
			}
			return time.Time{}, err
		}
		if !due.IsZero() {
			return due, nil
		}
	}
}

func (e *Engine) load(ctx context.Context, executionID string) (*run, error) {
	stream := execution.Stream(executionID)
	ls, err := load(ctx, e.d.Store, stream, executionAggregate())
	if err != nil {
		return nil, err
	}
	if !ls.state.Exists {
		return nil, errStreamMissing
	}
	first := ls.recorded[0].Metadata
	meta := Meta{TenantID: first.TenantID, Actor: engineActor(), CorrelationID: first.CorrelationID,
		CausationID: ls.recorded[0].ID.String()}
	return &run{state: ls.state, version: ls.version, started: first.OccurredAt, meta: meta, stream: stream,
		conns: map[string]loaded[connection.State]{}}, nil
}

// engineActor is the actor of the events the engine appends.
func engineActor() eventstore.Actor {
	return eventstore.Actor{Subject: "execution-engine", Role: "SYSTEM", AuthMethod: "system"}
}

// record appends the held events and then events with the expected
// version (event ids derived from the version they follow, so a replayed
// append is a no-op) and folds events (the held ones are folded already).
// On a failed append the held events are dropped with the run: the caller
// reloads the stream or gives the execution up.
func (e *Engine) record(ctx context.Context, r *run, events []domain.Event) error {
	if _, err := execution.Decide(r.state, execution.Record{Events: events}); err != nil {
		return err
	}
	all := append(r.held[:len(r.held):len(r.held)], events...)
	meta := r.meta
	meta.RequestID = fmt.Sprintf("engine:%s:%d", r.stream, r.version)
	data, err := encode(meta, r.stream, all, e.d.Now())
	if err != nil {
		return err
	}
	res, err := e.d.Store.Append(ctx, r.stream, r.version, data)
	if err != nil {
		return fmt.Errorf("append to %s: %w", r.stream, err)
	}
	for _, ev := range events {
		r.state = execution.Evolve(r.state, ev)
	}
	r.version, r.held = res.NextExpectedVersion, nil
	return nil
}
