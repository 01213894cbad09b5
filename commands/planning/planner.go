// Package planning turns a request in natural language into a plan
// version. It selects the tenant's operations relevant to the request with
// the catalogue search (tenant-scoped, restricted to the connections the
// request names), offers them to the model as tools (never more than the
// chat API's limit of 128, within a size budget), turns the tool calls of
// the model's reply into steps in order, validates them against the
// catalogue, gives the model one repair round with the problems found, and
// summarises the result for the confirmation screen. A model that finds
// nothing suitable says so through the no_suitable_endpoint tool (or by
// calling no tool). Without a model, it drafts a one-step plan from the
// best-matching operation with the parameters the request states.
//
// Document text reaches the model only inside tools, quoted as untrusted
// data; credentials never reach it (tools carry no credential parameters,
// and the prompt names connections by name and id only). Destructive
// operations are offered only when the request asks to delete, remove,
// cancel... something, and a step calling an operation that was not
// offered is refused like an unknown one: text in a document cannot make
// a plan destroy what nobody asked to destroy.
package planning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

// Planner plans versions. It is safe for concurrent use.
type Planner struct {
	cfg        Config
	catalogues *catalogues
}

// New returns a planner.
func New(cfg Config) (*Planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Planner{cfg: cfg, catalogues: newCatalogues(cfg.DB, cfg.Tools, cfg.MaxCachedOperations)}, nil
}

// Request is what to plan.
type Request struct {
	TenantID string
	Prompt   string
	// ConnectionIDs restricts the plan to these connections (empty: all
	// the tenant's enabled ones).
	ConnectionIDs []string
	// Previous is the version a revision starts from; nil for a new plan.
	Previous *Previous
}

// Previous is the version being revised.
type Previous struct {
	// Prompts are the request and the revisions so far, in order.
	Prompts []string
	Version plan.Version
}

// Result is a planned version and, when a model was asked, the JSON of
// its transcript (what it was asked and answered).
type Result struct {
	plan.Result
	Transcript []byte
	// Duration is how long planning took; ModelDuration the part spent
	// waiting for the model (its rounds, retries included), so that
	// Duration - ModelDuration is APIQ's own overhead.
	Duration, ModelDuration time.Duration
}

// ConfigureMessage tells a requester how to plan with a model.
const ConfigureMessage = "No LLM is configured, so this is a low-confidence draft: the best-matching operation of the " +
	"catalogue search, with the parameters the request states (name=value, quoted text, numbers). For multi-step plans, " +
	"configure an OpenAI-compatible model with APIQ_LLM_BASE_URL, APIQ_LLM_API_KEY and APIQ_LLM_MODEL."

// Errors of a request's connection filter.
var (
	ErrUnknownConnection = domain.Invalid("connection_ids", "unknown_connection",
		"connection_ids names a connection this tenant does not have (or whose catalogue is not imported yet)")
	ErrDisabledConnection = domain.Invalid("connection_ids", "connection_disabled",
		"connection_ids names a disabled connection; enable it first")
)

// Plan plans one version within the configured timeout. A model's failure
// (timeout, rate limit, refusal) is a failed version, not an error; errors
// are the request's (an unknown connection) or the service's.
func (p *Planner) Plan(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	cat, all, err := p.catalogues.load(ctx, req.TenantID)
	if err != nil {
		return Result{}, fmt.Errorf("plan: %w", err)
	}
	if err := checkFilter(all, req.ConnectionIDs); err != nil {
		return Result{}, err
	}
	var res Result
	switch {
	case cat.set == nil:
		res = noSuitable("the tenant has no enabled connection with an imported catalogue", p.mode())
	case p.cfg.Model == nil:
		res, err = p.draft(ctx, req, newScope(cat, req.ConnectionIDs))
	default:
		res, err = p.withModel(ctx, req, newScope(cat, req.ConnectionIDs))
	}
	if err != nil {
		return Result{}, fmt.Errorf("plan: %w", err)
	}
	if p.cfg.Model == nil {
		res.Outcome.Message = ConfigureMessage
	}
	res.Duration = time.Since(start)
	pl := res.Outcome.Planning
	p.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "plan version planned",
		slog.String("tenant_id", req.TenantID), slog.String("status", string(res.Status)), slog.String("mode", pl.Mode),
		slog.Int("candidates", pl.Candidates), slog.Int("tools_offered", pl.ToolsOffered), slog.Int("rounds", pl.Rounds),
		slog.Int("total_tokens", pl.Usage.TotalTokens), slog.Int("problems", len(res.Outcome.Problems)),
		slog.Float64("duration_ms", milliseconds(res.Duration)), slog.Float64("model_ms", milliseconds(res.ModelDuration)))
	return res, nil
}

func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (p *Planner) mode() string {
	if p.cfg.Model == nil {
		return plan.ModeCatalogueSearch
	}
	return plan.ModeLLM
}

// checkFilter refuses connections the tenant does not have, or has disabled.
func checkFilter(all []projections.PlanningConnection, filter []string) error {
	for _, id := range filter {
		i := slices.IndexFunc(all, func(c projections.PlanningConnection) bool { return c.ID == id })
		switch {
		case i < 0:
			return ErrUnknownConnection
		case !all[i].Enabled:
			return ErrDisabledConnection
		}
	}
	return nil
}

// searchQuery is what the catalogue is searched with: the request, and for
// a revision every prompt so far.
func searchQuery(req Request) string {
	if req.Previous == nil {
		return req.Prompt
	}
	return strings.Join(append(slices.Clone(req.Previous.Prompts), req.Prompt), "\n")
}

// kept lists the operations the revised version calls (offered again).
func kept(req Request) []plan.OperationRef {
	if req.Previous == nil || req.Previous.Version.Outcome.Plan == nil {
		return nil
	}
	var out []plan.OperationRef
	for _, s := range req.Previous.Version.Outcome.Plan.Calls() {
		out = append(out, s.Call.Ref())
	}
	return out
}

// noSuitable is a no_suitable_endpoint result.
func noSuitable(reason, mode string) Result {
	return Result{Result: plan.Result{Status: plan.StatusNoSuitableEndpoint, Outcome: plan.Outcome{
		Reason: reason, Planning: plan.Planning{Mode: mode}}}}
}

// confirmation summarises a plan for the confirmation screen: its calls as
// the catalogue describes them, the credentials of the connections it
// calls (type and key id), and the tokens planning cost.
func confirmation(p plan.Plan, cat catalogue, usage plan.Usage) *plan.Confirmation {
	out := &plan.Confirmation{Summary: plan.Summarize(p, cat.set), Credentials: []plan.CredentialUse{}, Tokens: usage}
	for _, id := range out.Connections {
		use := plan.CredentialUse{ConnectionID: id, Type: "none"}
		if c, ok := cat.connection(id); ok {
			use.ConnectionName, use.KeyID = c.Name, c.CredentialKeyID
			if c.CredentialType != "" {
				use.Type = c.CredentialType
			}
		}
		out.Credentials = append(out.Credentials, use)
	}
	return out
}

// isCancellation reports an error of the caller's own cancellation, which
// records nothing.
func isCancellation(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded)
}
