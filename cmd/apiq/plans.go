package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/adapters/quota"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// planParts are the plan command handlers and the blob store their
// large transcripts live in.
type planParts struct {
	request  commands.RequestPlanHandler
	revise   commands.RevisePlanHandler
	confirm  commands.ConfirmPlanHandler
	reject   commands.RejectPlanHandler
	settings commands.ChangePlanSettingsHandler
	blobs    commands.BlobStore
}

// openPlans wires planning: the model when APIQ_LLM_* configure one
// (drafts from the catalogue search otherwise), the planner over the
// catalogue read model, and the plan handlers.
func (c *core) openPlans(conns commands.ConnectionDeps) error {
	cfg := c.cfg.Planning
	var model *llm.Client
	if cfg.LLM.Configured() {
		llmCfg := cfg.LLM
		llmCfg.Timeout, llmCfg.Logger = cfg.Timeout, c.logger
		var err error
		if model, err = llm.New(llmCfg); err != nil {
			return fmt.Errorf("planning model: %w", err)
		}
	}
	c.logger.Info("planning", slog.Any("llm", cfg.LLM), slog.Duration("timeout", cfg.Timeout))
	planner, err := planning.New(planning.Config{DB: c.pool, Model: model, Timeout: cfg.Timeout, Logger: c.logger})
	if err != nil {
		return fmt.Errorf("planner: %w", err)
	}
	d := commands.PlanDeps{Deps: conns.Deps, Planner: planner, Blobs: conns.Blobs}
	var errs []error
	p := &c.plans
	p.blobs = conns.Blobs
	p.request, err = commands.NewRequestPlanHandler(d)
	errs = append(errs, err)
	p.revise, err = commands.NewRevisePlanHandler(d)
	errs = append(errs, err)
	p.confirm, err = commands.NewConfirmPlanHandler(d)
	errs = append(errs, err)
	p.reject, err = commands.NewRejectPlanHandler(d)
	errs = append(errs, err)
	p.settings, err = commands.NewChangePlanSettingsHandler(d)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("plan handlers: %w", err)
	}
	return nil
}

// plansAPI adapts the plan commands and the plans view to api.Plans. A
// command's answer shows the plan once the view includes the change.
type plansAPI struct {
	db     projections.QueryDB
	parts  planParts
	runner *projections.Runner
	// viewTimeout bounds the wait for the view after a command.
	viewTimeout time.Duration
	// quotas, when set, are charged the LLM tokens each planning used.
	quotas *quota.Store
	logger *slog.Logger
}

var _ api.Plans = (*plansAPI)(nil)

// CreatePlan implements api.Plans.
func (a *plansAPI) CreatePlan(ctx context.Context, md eventstore.Metadata, in api.NewPlan) (api.Plan, error) {
	res, err := a.parts.request.Handle(ctx, commands.MetaFromMetadata(md), commands.RequestPlan{
		Prompt: in.Prompt, ConnectionIDs: in.ConnectionIDs})
	if err != nil {
		return api.Plan{}, err
	}
	p, err := a.view(ctx, md.TenantID, res.PlanID, res.Position)
	return a.charged(ctx, md.TenantID, p, err)
}

// charged charges the tenant's LLM token quota what the plan's latest
// version used (the view lists versions latest first). The tokens are
// spent and the plan made: a failure to count them is logged, not answered.
func (a *plansAPI) charged(ctx context.Context, tenantID string, p api.Plan, err error) (api.Plan, error) {
	if err != nil || a.quotas == nil || len(p.Versions) == 0 {
		return p, err
	}
	if used := int64(p.Versions[0].Planning.Usage.TotalTokens); used > 0 {
		if _, cerr := a.quotas.Charge(context.WithoutCancel(ctx), tenantID, quota.LLMTokens, used); cerr != nil && a.logger != nil {
			a.logger.ErrorContext(ctx, "charge llm tokens", slog.String("tenant_id", tenantID), slog.String("error", cerr.Error()))
		}
	}
	return p, nil
}

// RevisePlan implements api.Plans.
func (a *plansAPI) RevisePlan(ctx context.Context, md eventstore.Metadata, id, prompt string) (api.Plan, error) {
	res, err := a.parts.revise.Handle(ctx, commands.MetaFromMetadata(md), commands.RevisePlan{PlanID: id, Prompt: prompt})
	if err != nil {
		return api.Plan{}, err
	}
	p, err := a.view(ctx, md.TenantID, id, res.Position)
	return a.charged(ctx, md.TenantID, p, err)
}

// ConfirmPlan implements api.Plans.
func (a *plansAPI) ConfirmPlan(ctx context.Context, md eventstore.Metadata, id string, version int) (api.Plan, error) {
	res, err := a.parts.confirm.Handle(ctx, commands.MetaFromMetadata(md), commands.ConfirmPlan{PlanID: id, Version: version})
	if err != nil {
		return api.Plan{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// RejectPlan implements api.Plans.
func (a *plansAPI) RejectPlan(ctx context.Context, md eventstore.Metadata, id, reason string) (api.Plan, error) {
	res, err := a.parts.reject.Handle(ctx, commands.MetaFromMetadata(md), commands.RejectPlan{PlanID: id, Reason: reason})
	if err != nil {
		return api.Plan{}, err
	}
	return a.view(ctx, md.TenantID, id, res.Position)
}

// GetPlan implements api.Plans.
func (a *plansAPI) GetPlan(ctx context.Context, tenantID, id string, transcripts bool) (api.Plan, error) {
	v, err := projections.GetPlan(ctx, a.db, tenantID, id)
	if err != nil {
		return api.Plan{}, err
	}
	out := apiPlan(v)
	for i := range out.Versions {
		pl := &out.Versions[i].Planning
		if !transcripts {
			pl.Transcript = nil
			continue
		}
		if len(pl.Transcript) == 0 && pl.TranscriptHash != "" {
			raw, err := a.parts.blobs.Get(ctx, pl.TranscriptHash)
			if err != nil {
				return api.Plan{}, fmt.Errorf("transcript of plan %s version %d: %w", id, out.Versions[i].Version, err)
			}
			pl.Transcript = json.RawMessage(raw)
		}
	}
	return out, nil
}

// ListPlans implements api.Plans.
func (a *plansAPI) ListPlans(ctx context.Context, tenantID string, f api.PlanFilter) ([]api.PlanSummary, string, error) {
	page, err := projections.ListPlans(ctx, a.db, tenantID, projections.ListPlansOptions{
		Status: f.Status, RequestedBy: f.RequestedBy, ConnectionID: f.ConnectionID, Limit: f.Limit, After: f.After})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.PlanSummary, len(page.Plans))
	for i, v := range page.Plans {
		out[i] = api.PlanSummary{ID: v.ID, Status: v.Status, Version: v.LatestVersion, Prompt: v.Prompt, RequestedBy: v.RequestedBy,
			ConnectionIDs: v.ConnectionIDs, Connections: v.Connections, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
		if v.Confirmation != nil {
			out[i].ConfirmedVersion = v.Confirmation.Version
		}
	}
	return out, page.Next, nil
}

// PlanUsage implements api.Plans.
func (a *plansAPI) PlanUsage(ctx context.Context, tenantID string) (api.PlanUsage, error) {
	u, err := projections.GetPlanUsage(ctx, a.db, tenantID)
	if err != nil {
		return api.PlanUsage{}, err
	}
	out := api.PlanUsage{PromptTokens: u.Usage.PromptTokens, CompletionTokens: u.Usage.CompletionTokens,
		TotalTokens: u.Usage.TotalTokens, ModelRequests: u.ModelRequests, PlannedVersions: u.PlannedVersions}
	if !u.UpdatedAt.IsZero() {
		out.UpdatedAt = &u.UpdatedAt
	}
	return out, nil
}

// PlanSettings implements api.Plans.
func (a *plansAPI) PlanSettings(ctx context.Context, tenantID string) (api.PlanSettings, error) {
	s, err := projections.GetPlanSettings(ctx, a.db, tenantID)
	if err != nil {
		return api.PlanSettings{}, err
	}
	return api.PlanSettings{DestructiveRequiresSecondAdmin: s.DestructiveRequiresSecondAdmin}, nil
}

// SetPlanSettings implements api.Plans.
func (a *plansAPI) SetPlanSettings(ctx context.Context, md eventstore.Metadata, in api.PlanSettings) (api.PlanSettings, error) {
	res, err := a.parts.settings.Handle(ctx, commands.MetaFromMetadata(md), commands.ChangePlanSettings{
		Settings: plan.Settings{DestructiveRequiresSecondAdmin: in.DestructiveRequiresSecondAdmin}})
	if err != nil {
		return api.PlanSettings{}, err
	}
	if err := a.wait(ctx, res.Position); err != nil {
		return api.PlanSettings{}, fmt.Errorf("wait for plan settings: %w", err)
	}
	return api.PlanSettings{DestructiveRequiresSecondAdmin: res.Settings.DestructiveRequiresSecondAdmin, Position: res.Position.String()}, nil
}

// wait waits until the plans view includes pos.
func (a *plansAPI) wait(ctx context.Context, pos eventstore.Position) error {
	if pos.IsZero() {
		return nil
	}
	wait, cancel := context.WithTimeout(ctx, a.viewTimeout)
	defer cancel()
	return a.runner.WaitForPosition(wait, pos, projections.NewPlansProjector().Name())
}

// view waits until the plans view includes pos and reads the plan.
func (a *plansAPI) view(ctx context.Context, tenantID, id string, pos eventstore.Position) (api.Plan, error) {
	if err := a.wait(ctx, pos); err != nil {
		return api.Plan{}, fmt.Errorf("wait for plan %s: %w", id, err)
	}
	p, err := a.GetPlan(ctx, tenantID, id, false)
	p.Position = pos.String()
	return p, err
}

// apiPlan shows a plan: its status, the latest version's outcome in brief
// and every version, the latest first.
func apiPlan(v projections.PlanView) api.Plan {
	p := api.Plan{ID: v.ID, Status: v.Status, Version: v.LatestVersion, Prompt: v.Prompt, RequestedBy: v.RequestedBy,
		ConnectionIDs: nonNilStrings(v.ConnectionIDs), Connections: nonNilStrings(v.Connections), Errors: []plan.Problem{},
		Versions: make([]api.PlanVersion, len(v.Versions)), CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if c := v.Confirmation; c != nil {
		p.Confirmation = &api.PlanConfirmation{Version: c.Version, By: c.By, At: c.At}
	}
	if r := v.Rejection; r != nil {
		p.Rejection = &api.PlanRejection{By: r.By, Reason: r.Reason, At: r.At}
	}
	for i, ver := range v.Versions {
		o := ver.Outcome
		pl := o.Planning
		p.Versions[i] = api.PlanVersion{Version: ver.Number, Status: ver.Status, Prompt: ver.Prompt, RequestedBy: ver.RequestedBy,
			BasedOn: ver.BasedOn, CreatedAt: ver.CreatedAt, Confidence: string(o.Confidence), Plan: o.Plan, Summary: o.Confirmation,
			Errors: nonNilProblems(o.Problems), Reason: o.Reason, Message: o.Message,
			Planning: api.PlanPlanning{Mode: pl.Mode, Model: pl.Model, Usage: pl.Usage, Rounds: pl.Rounds, RepairRounds: pl.RepairRounds,
				Candidates: pl.Candidates, ToolsOffered: pl.ToolsOffered, TranscriptHash: pl.TranscriptHash,
				TranscriptBytes: pl.TranscriptBytes, Transcript: pl.Transcript}}
	}
	if len(p.Versions) > 0 {
		latest := p.Versions[0]
		p.Confidence, p.Errors, p.Reason, p.Message = latest.Confidence, latest.Errors, latest.Reason, latest.Message
	}
	return p
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilProblems(ps plan.Problems) []plan.Problem {
	if ps == nil {
		return []plan.Problem{}
	}
	return ps
}
