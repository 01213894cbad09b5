package commands

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

// ConfirmedPlans loads a tenant's confirmed plan; version 0 asks for the
// latest confirmed version. It returns the version loaded, and an error
// wrapping domain.ErrNotFound when there is no such confirmed plan.
type ConfirmedPlans interface {
	Load(ctx context.Context, tenantID, planID string, version int64) (plan.Plan, int64, error)
}

// ExecutionConfig tunes the engine.
type ExecutionConfig struct {
	// Owner names this process in the work table (default: a random id).
	Owner string
	// Concurrency bounds the executions one process runs at once.
	Concurrency int
	// Lease is how long a claim holds without renewal; a dead process's
	// executions are taken over after it.
	Lease time.Duration
	// Poll is how often the work table is checked without a signal.
	Poll time.Duration
	// StepTimeout bounds one call with its attempts; Timeout a whole run.
	StepTimeout time.Duration
	Timeout     time.Duration
	// MaxAttempts bounds the attempts of one step.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between step attempts (full jitter).
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxStoredBody caps the response body kept in an event; the whole body
	// goes to the blob store (when set) by hash.
	MaxStoredBody int
	// MaxResponseBytes is the most read of one response.
	MaxResponseBytes int64
	// ConnectionTTL is how long a connection read for one execution serves
	// the others (0: each claim reads it): a connection disabled, removed
	// or given new credentials is seen by executions within it.
	ConnectionTTL time.Duration
}

// DefaultExecutionConfig returns the production defaults.
func DefaultExecutionConfig() ExecutionConfig {
	return ExecutionConfig{Concurrency: 64, Lease: 15 * time.Second, Poll: time.Second,
		StepTimeout: 30 * time.Second, Timeout: time.Hour, MaxAttempts: 4,
		RetryBase: 200 * time.Millisecond, RetryMax: 30 * time.Second,
		MaxStoredBody: 64 << 10, MaxResponseBytes: 8 << 20, ConnectionTTL: time.Second}
}

// Validate reports every problem of the configuration.
func (c ExecutionConfig) Validate() error {
	var errs []error
	check := func(bad bool, msg string) {
		if bad {
			errs = append(errs, errors.New("executions: "+msg))
		}
	}
	check(c.Concurrency <= 0, "Concurrency must be positive")
	check(c.Lease < time.Second, "Lease must be at least a second")
	check(c.Poll <= 0, "Poll must be positive")
	check(c.StepTimeout <= 0, "StepTimeout must be positive")
	check(c.Timeout < c.StepTimeout, "Timeout must be at least StepTimeout")
	check(c.MaxAttempts <= 0, "MaxAttempts must be positive")
	check(c.RetryBase <= 0 || c.RetryMax < c.RetryBase, "RetryBase must be positive and RetryMax at least RetryBase")
	check(c.MaxStoredBody <= 0, "MaxStoredBody must be positive")
	check(c.MaxResponseBytes < int64(c.MaxStoredBody), "MaxResponseBytes must be at least MaxStoredBody")
	check(c.ConnectionTTL < 0, "ConnectionTTL must not be negative")
	return errors.Join(errs...)
}

// ExecutionDeps are the collaborators of the execution commands and the
// engine: the connection collaborators (store, blobs, credentials) plus
// the pool holding the work table, the feed's wake-ups and the plans.
type ExecutionDeps struct {
	ConnectionDeps
	Pool  *pgxpool.Pool
	Feed  eventstore.Feed
	Plans ConfirmedPlans
	// Signal, when set, wakes in-process readers of the feed after an append.
	Signal func()
	Config ExecutionConfig
}

func (d ExecutionDeps) require(handler string, plans bool) error {
	var errs []error
	check := func(need, missing bool, name string) {
		if need && missing {
			errs = append(errs, errors.New(handler+": "+name+" is required"))
		}
	}
	check(true, d.Store == nil, "Store")
	check(true, d.Pool == nil, "Pool")
	check(plans, d.Plans == nil, "Plans")
	check(!plans, d.Credentials == nil, "Credentials")
	check(!plans, d.Blobs == nil, "Blobs")
	errs = append(errs, d.Config.Validate())
	return errors.Join(errs...)
}

func executionAggregate() aggregate[execution.State] {
	return aggregate[execution.State]{decode: execution.Decode, evolve: execution.Evolve}
}

// loadExecution loads a tenant's execution (ErrNotFound for another tenant's).
func loadExecution(ctx context.Context, store EventStore, tenantID, executionID string) (loaded[execution.State], error) {
	if executionID == "" {
		return loaded[execution.State]{}, execution.ErrNotFound
	}
	ls, err := load(ctx, store, execution.Stream(executionID), executionAggregate())
	if err != nil {
		return ls, err
	}
	if !ls.state.Exists || (tenantID != "" && ls.recorded[0].Metadata.TenantID != tenantID) {
		return loaded[execution.State]{}, execution.ErrNotFound
	}
	return ls, nil
}

// ErrPlanNotConfirmed means the plan (or the version asked for) is not confirmed.
var ErrPlanNotConfirmed = domain.NewError(domain.ErrNotFound, "plan_not_found", "no such confirmed plan")
