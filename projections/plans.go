package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// PlansProjector builds the plans view: one row per plan (its status,
// latest version, confirmation or rejection, the connections its versions
// call), one row per version with its recorded outcome, each tenant's
// model token usage summed over every planned version, and each tenant's
// plan settings.
type PlansProjector struct{}

var _ Projector = (*PlansProjector)(nil)

// NewPlansProjector returns the plans projector.
func NewPlansProjector() *PlansProjector { return &PlansProjector{} }

// Name implements Projector.
func (*PlansProjector) Name() string { return "plans" }

// Version implements Projector.
func (*PlansProjector) Version() int { return 1 }

// Schema implements Projector. A version's outcome is kept as recorded
// (plan, confirmation summary, problems, planning record with the inline
// transcript or its hash); plans.status is "planning" only between a
// request and its outcome, which the same append records.
func (*PlansProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS plans (
    plan_id           text        PRIMARY KEY,
    tenant_id         text        NOT NULL,
    status            text        NOT NULL,
    latest_version    integer     NOT NULL,
    prompt            text        NOT NULL,
    requested_by      text        NOT NULL,
    connection_ids    text[]      NOT NULL,
    connections       text[]      NOT NULL DEFAULT '{}',
    confirmed_version integer,
    confirmed_by      text,
    confirmed_at      timestamptz,
    rejected_by       text,
    rejected_at       timestamptz,
    rejection_reason  text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    last_version      bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_tenant_page_idx ON plans (tenant_id, created_at DESC, plan_id DESC);
CREATE TABLE IF NOT EXISTS plan_versions (
    plan_id      text        NOT NULL,
    version      integer     NOT NULL,
    tenant_id    text        NOT NULL,
    status       text        NOT NULL DEFAULT 'planning',
    prompt       text        NOT NULL,
    requested_by text        NOT NULL,
    based_on     integer     NOT NULL DEFAULT 0,
    outcome      jsonb,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (plan_id, version)
);
CREATE TABLE IF NOT EXISTS usage (
    tenant_id         text        PRIMARY KEY,
    prompt_tokens     bigint      NOT NULL,
    completion_tokens bigint      NOT NULL,
    total_tokens      bigint      NOT NULL,
    model_requests    bigint      NOT NULL,
    planned_versions  bigint      NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    tenant_id                          text        PRIMARY KEY,
    destructive_requires_second_admin  boolean     NOT NULL,
    updated_at                         timestamptz NOT NULL,
    last_version                       bigint      NOT NULL
);`
}

// statusPlanning is a plan's status between its request and its outcome.
const statusPlanning = "planning"

// Apply implements Projector. Plan rows change only for events newer than
// their last_version (so replays change nothing, usage included); version
// rows are written once and completed by their outcome.
func (p *PlansProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	var settings bool
	switch {
	case strings.HasPrefix(ev.StreamID, plan.StreamPrefix):
	case strings.HasPrefix(ev.StreamID, plan.SettingsStreamPrefix):
		settings = true
	default:
		return nil
	}
	decoded, ok, err := plan.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	if settings {
		e, ok := decoded.(plan.SettingsChanged)
		if !ok {
			return nil
		}
		err = db.Exec(ctx, `
			INSERT INTO settings (tenant_id, destructive_requires_second_admin, updated_at, last_version)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id) DO UPDATE SET destructive_requires_second_admin = EXCLUDED.destructive_requires_second_admin,
			    updated_at = EXCLUDED.updated_at, last_version = EXCLUDED.last_version
			WHERE settings.last_version < EXCLUDED.last_version`,
			strings.TrimPrefix(ev.StreamID, plan.SettingsStreamPrefix), e.DestructiveRequiresSecondAdmin, eventTime(ev), ev.Version)
		if err != nil {
			return fmt.Errorf("plans: apply %s: %w", ev.Type, err)
		}
		return nil
	}
	id := plan.IDFromStream(ev.StreamID)
	if err := p.apply(ctx, db, ev, id, decoded); err != nil {
		return fmt.Errorf("plans: apply %s of %s: %w", ev.Type, id, err)
	}
	return nil
}

func (p *PlansProjector) apply(ctx context.Context, db DB, ev eventstore.RecordedEvent, id string, decoded domain.Event) error {
	at, tenant := eventTime(ev), ev.Metadata.TenantID
	// set runs "UPDATE plans SET <assignments>" for this event; $1 is the
	// id, $2 the stream version, $3 the time, $4 the tenant, further
	// arguments follow.
	set := func(assignments string, args ...any) error {
		return db.Exec(ctx, `UPDATE plans SET `+assignments+`, updated_at = $3, last_version = $2
			WHERE plan_id = $1 AND last_version < $2 AND tenant_id = $4`, append([]any{id, ev.Version, at, tenant}, args...)...)
	}
	switch e := decoded.(type) {
	case plan.Requested:
		if err := db.Exec(ctx, `
			INSERT INTO plans (plan_id, tenant_id, status, latest_version, prompt, requested_by, connection_ids,
			    created_at, updated_at, last_version)
			VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $7, $8)
			ON CONFLICT (plan_id) DO NOTHING`,
			id, tenant, statusPlanning, e.Prompt, e.RequestedBy, nonNil(e.ConnectionIDs), at, ev.Version); err != nil {
			return err
		}
		return insertVersion(ctx, db, id, tenant, 1, e.Prompt, e.RequestedBy, 0, at)
	case plan.Revised:
		if err := insertVersion(ctx, db, id, tenant, e.Version, e.Prompt, e.RequestedBy, e.BasedOn, at); err != nil {
			return err
		}
		return set(`latest_version = $5, status = $6`, e.Version, statusPlanning)
	case plan.Proposed:
		return p.outcome(ctx, db, ev, id, plan.StatusProposed, e.Outcome)
	case plan.Failed:
		return p.outcome(ctx, db, ev, id, plan.StatusFailed, e.Outcome)
	case plan.NoSuitableEndpoint:
		return p.outcome(ctx, db, ev, id, plan.StatusNoSuitableEndpoint, e.Outcome)
	case plan.Confirmed:
		return set(`status = $5, confirmed_version = $6, confirmed_by = $7, confirmed_at = $3`,
			plan.StatusConfirmed, e.Version, e.ConfirmedBy)
	case plan.Rejected:
		return set(`status = $5, rejected_by = $6, rejection_reason = $7, rejected_at = $3`,
			plan.StatusRejected, e.RejectedBy, e.Reason)
	}
	return set(`status = status`)
}

func insertVersion(ctx context.Context, db DB, id, tenant string, version int, prompt, by string, basedOn int, at time.Time) error {
	return db.Exec(ctx, `
		INSERT INTO plan_versions (plan_id, version, tenant_id, prompt, requested_by, based_on, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (plan_id, version) DO NOTHING`, id, version, tenant, prompt, by, basedOn, at)
}

// outcome completes a version and, once per event, moves the plan's status
// (unless it is confirmed or rejected), adds the connections it calls and
// adds its token usage to the tenant's.
func (p *PlansProjector) outcome(ctx context.Context, db DB, ev eventstore.RecordedEvent, id string, status plan.Status, o plan.Outcome) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode outcome: %w", err)
	}
	if err := db.Exec(ctx, `UPDATE plan_versions SET status = $3, outcome = $4 WHERE plan_id = $1 AND version = $2 AND tenant_id = $5`,
		id, o.Version, status, raw, ev.Metadata.TenantID); err != nil {
		return err
	}
	var connections []string
	if o.Confirmation != nil {
		connections = o.Confirmation.Connections
	}
	u := o.Planning.Usage
	return db.Exec(ctx, `
		WITH changed AS (
		    UPDATE plans SET
		        status = CASE WHEN confirmed_version IS NULL AND rejected_at IS NULL AND latest_version = $5 THEN $6 ELSE status END,
		        connections = ARRAY(SELECT DISTINCT c FROM unnest(connections || $7::text[]) c ORDER BY c),
		        updated_at = $3, last_version = $2
		    WHERE plan_id = $1 AND last_version < $2 AND tenant_id = $4
		    RETURNING tenant_id
		)
		INSERT INTO usage AS u (tenant_id, prompt_tokens, completion_tokens, total_tokens, model_requests, planned_versions, updated_at)
		SELECT tenant_id, $8, $9, $10, $11, 1, $3 FROM changed
		ON CONFLICT (tenant_id) DO UPDATE SET
		    prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
		    completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
		    total_tokens = u.total_tokens + EXCLUDED.total_tokens,
		    model_requests = u.model_requests + EXCLUDED.model_requests,
		    planned_versions = u.planned_versions + 1,
		    updated_at = EXCLUDED.updated_at`,
		id, ev.Version, eventTime(ev), ev.Metadata.TenantID, o.Version, status, nonNil(connections),
		u.PromptTokens, u.CompletionTokens, u.TotalTokens, o.Planning.Rounds)
}
