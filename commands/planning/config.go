package planning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/adapters/tools"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one planning, model rounds included; it stays
	// under the HTTP write timeout and the Idempotency-Key lease.
	DefaultTimeout = 45 * time.Second
	// DefaultMaxCandidates is how many catalogue operations a request
	// offers the model at most.
	DefaultMaxCandidates = 40
	// DefaultToolBytes bounds the JSON of the operation tools of one
	// request (about 24,000 tokens), best-ranked first.
	DefaultToolBytes = 96 << 10
	// DefaultMaxCachedOperations bounds the operations kept in memory, over
	// all tenants' tool sets.
	DefaultMaxCachedOperations = 100_000
	// DefaultMaxPlanBytes bounds a plan's JSON.
	DefaultMaxPlanBytes = 256 << 10
)

// DB is what the planner reads the catalogue through: a pool.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config wires a Planner.
type Config struct {
	// DB holds the catalogue read model, the connections view and the
	// blob store.
	DB DB
	// Model plans with an LLM; nil plans drafts from the catalogue search.
	Model *llm.Client
	// Timeout bounds one planning (default DefaultTimeout).
	Timeout time.Duration
	// MaxCandidates bounds the operations offered per request (default
	// DefaultMaxCandidates; at most tools.MaxSelected).
	MaxCandidates int
	// ToolBytes bounds the operation tools' JSON per request (default
	// DefaultToolBytes); the few best-ranked are always offered.
	ToolBytes int
	// MaxCachedOperations bounds the catalogue kept in memory (default
	// DefaultMaxCachedOperations).
	MaxCachedOperations int
	// MaxPlanBytes bounds a plan's JSON (default DefaultMaxPlanBytes).
	MaxPlanBytes int
	// Tools shapes the tools (zero: the tools package's defaults).
	Tools tools.Options
	// Logger receives one line per planning, never prompts (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = DefaultMaxCandidates
	}
	if c.ToolBytes == 0 {
		c.ToolBytes = DefaultToolBytes
	}
	if c.MaxCachedOperations == 0 {
		c.MaxCachedOperations = DefaultMaxCachedOperations
	}
	if c.MaxPlanBytes == 0 {
		c.MaxPlanBytes = DefaultMaxPlanBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem of the configuration (zero values take defaults).
func (c Config) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("planning: DB is required"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("planning: Timeout %s is negative", c.Timeout))
	}
	if c.MaxCandidates < 0 || c.MaxCandidates > tools.MaxSelected {
		errs = append(errs, fmt.Errorf("planning: MaxCandidates %d is not between 1 and %d", c.MaxCandidates, tools.MaxSelected))
	}
	if c.ToolBytes < 0 {
		errs = append(errs, fmt.Errorf("planning: ToolBytes %d is negative", c.ToolBytes))
	}
	if c.MaxCachedOperations < 0 {
		errs = append(errs, fmt.Errorf("planning: MaxCachedOperations %d is negative", c.MaxCachedOperations))
	}
	if c.MaxPlanBytes < 0 {
		errs = append(errs, fmt.Errorf("planning: MaxPlanBytes %d is negative", c.MaxPlanBytes))
	}
	if err := c.Tools.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("planning: %w", err))
	}
	return errors.Join(errs...)
}
