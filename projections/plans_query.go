package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain/plan"
)

// PlanView is a plan as the plans view holds it.
type PlanView struct {
	ID       string
	TenantID string
	// Status is the latest version's, or confirmed or rejected.
	Status        string
	LatestVersion int
	// Prompt is the first request; RequestedBy who made it.
	Prompt        string
	RequestedBy   string
	ConnectionIDs []string
	// Connections lists the connections any version calls.
	Connections  []string
	Confirmation *PlanConfirmationView
	Rejection    *PlanRejectionView
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// StreamVersion is the plan stream's version the row reflects.
	StreamVersion int64
	// Versions lists every version, the latest first (GetPlan only).
	Versions []PlanVersionView
}

// PlanConfirmationView says which version was confirmed, by whom, when.
type PlanConfirmationView struct {
	Version int
	By      string
	At      time.Time
}

// PlanRejectionView says who rejected the plan, why and when.
type PlanRejectionView struct {
	By     string
	Reason string
	At     time.Time
}

// PlanVersionView is one version of a plan with its recorded outcome.
type PlanVersionView struct {
	Number      int
	Status      string
	Prompt      string
	RequestedBy string
	BasedOn     int
	CreatedAt   time.Time
	Outcome     plan.Outcome
}

// PlanUsageView sums a tenant's model usage over every planned version.
type PlanUsageView struct {
	Usage plan.Usage
	// ModelRequests counts the requests sent to the model, PlannedVersions
	// the versions planned (with or without a model).
	ModelRequests   int64
	PlannedVersions int64
	// UpdatedAt is zero when the tenant never planned.
	UpdatedAt time.Time
}

// Plan list page sizes.
const (
	DefaultPlansPageSize = 50
	MaxPlansPageSize     = 200
)

// ListPlansOptions filters and pages a tenant's plans. Zero values do not filter.
type ListPlansOptions struct {
	Status      string
	RequestedBy string
	// ConnectionID keeps the plans restricted to, or calling, the connection.
	ConnectionID string
	Limit        int
	// After is a previous page's Next cursor.
	After string
}

// PlansPage is one page of plans, the newest first; Next is the cursor of
// the following page, empty on the last one.
type PlansPage struct {
	Plans []PlanView
	Next  string
}

func plansTable(table string) string { return SchemaName(&PlansProjector{}) + "." + table }

const planColumns = `plan_id, tenant_id, status, latest_version, prompt, requested_by, connection_ids, connections,
	confirmed_version, confirmed_by, confirmed_at, rejected_by, rejected_at, rejection_reason,
	created_at, updated_at, last_version`

func scanPlan(row pgx.Row) (PlanView, error) {
	var (
		p                            PlanView
		confirmedVersion             *int
		confirmedBy, rejectedBy, why *string
		confirmedAt, rejectedAt      *time.Time
	)
	err := row.Scan(&p.ID, &p.TenantID, &p.Status, &p.LatestVersion, &p.Prompt, &p.RequestedBy, &p.ConnectionIDs, &p.Connections,
		&confirmedVersion, &confirmedBy, &confirmedAt, &rejectedBy, &rejectedAt, &why, &p.CreatedAt, &p.UpdatedAt, &p.StreamVersion)
	if err != nil {
		return p, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if confirmedVersion != nil && confirmedAt != nil {
		p.Confirmation = &PlanConfirmationView{Version: *confirmedVersion, By: deref(confirmedBy), At: confirmedAt.UTC()}
	}
	if rejectedAt != nil {
		p.Rejection = &PlanRejectionView{By: deref(rejectedBy), Reason: deref(why), At: rejectedAt.UTC()}
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// GetPlan returns a plan of the tenant with all its versions, the latest
// first, or plan.ErrNotFound (also for another tenant's plan).
func GetPlan(ctx context.Context, db QueryDB, tenantID, planID string) (PlanView, error) {
	p, err := scanPlan(db.QueryRow(ctx, `SELECT `+planColumns+` FROM `+plansTable("plans")+`
		WHERE tenant_id = $1 AND plan_id = $2`, tenantID, planID))
	if errors.Is(err, pgx.ErrNoRows) {
		return PlanView{}, plan.ErrNotFound
	}
	if err != nil {
		return PlanView{}, fmt.Errorf("get plan %s: %w", planID, err)
	}
	rows, err := db.Query(ctx, `SELECT version, status, prompt, requested_by, based_on, created_at, outcome
		FROM `+plansTable("plan_versions")+` WHERE plan_id = $1 AND tenant_id = $2 ORDER BY version DESC`, planID, tenantID)
	if err != nil {
		return PlanView{}, fmt.Errorf("get versions of plan %s: %w", planID, err)
	}
	p.Versions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PlanVersionView, error) {
		var v PlanVersionView
		var outcome []byte
		if err := r.Scan(&v.Number, &v.Status, &v.Prompt, &v.RequestedBy, &v.BasedOn, &v.CreatedAt, &outcome); err != nil {
			return v, err
		}
		v.CreatedAt = v.CreatedAt.UTC()
		if outcome != nil {
			if err := json.Unmarshal(outcome, &v.Outcome); err != nil {
				return v, fmt.Errorf("decode outcome of version %d: %w", v.Number, err)
			}
		}
		return v, nil
	})
	if err != nil {
		return PlanView{}, fmt.Errorf("get versions of plan %s: %w", planID, err)
	}
	return p, nil
}

// ListPlans returns a page of the tenant's plans, the newest first
// (keyset pagination: stable while plans are added), without their versions.
func ListPlans(ctx context.Context, db QueryDB, tenantID string, opts ListPlansOptions) (PlansPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultPlansPageSize
	}
	limit = min(limit, MaxPlansPageSize)
	afterTime, afterID, err := decodeCursor(opts.After)
	if err != nil {
		return PlansPage{}, err
	}
	var after *time.Time
	if opts.After != "" {
		after = &afterTime
	}
	rows, err := db.Query(ctx, `SELECT `+planColumns+` FROM `+plansTable("plans")+`
		WHERE tenant_id = $1
		  AND ($2::timestamptz IS NULL OR (created_at, plan_id) < ($2, $3))
		  AND ($4 = '' OR status = $4)
		  AND ($5 = '' OR requested_by = $5)
		  AND ($6 = '' OR $6 = ANY (connection_ids) OR $6 = ANY (connections))
		ORDER BY created_at DESC, plan_id DESC
		LIMIT $7`, tenantID, after, afterID, opts.Status, opts.RequestedBy, opts.ConnectionID, limit+1)
	if err != nil {
		return PlansPage{}, fmt.Errorf("list plans: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PlanView, error) { return scanPlan(r) })
	if err != nil {
		return PlansPage{}, fmt.Errorf("list plans: %w", err)
	}
	page := PlansPage{Plans: list}
	if len(list) > limit {
		page.Plans = list[:limit]
		last := page.Plans[limit-1]
		page.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// GetPlanUsage returns the tenant's summed model usage (zero when it never planned).
func GetPlanUsage(ctx context.Context, db QueryDB, tenantID string) (PlanUsageView, error) {
	var u PlanUsageView
	err := db.QueryRow(ctx, `SELECT prompt_tokens, completion_tokens, total_tokens, model_requests, planned_versions, updated_at
		FROM `+plansTable("usage")+` WHERE tenant_id = $1`, tenantID).Scan(
		&u.Usage.PromptTokens, &u.Usage.CompletionTokens, &u.Usage.TotalTokens, &u.ModelRequests, &u.PlannedVersions, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return PlanUsageView{}, nil
	}
	if err != nil {
		return PlanUsageView{}, fmt.Errorf("get plan usage: %w", err)
	}
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u, nil
}

// GetPlanSettings returns the tenant's plan settings as the view holds
// them (the defaults when never set).
func GetPlanSettings(ctx context.Context, db QueryDB, tenantID string) (plan.Settings, error) {
	var s plan.Settings
	err := db.QueryRow(ctx, `SELECT destructive_requires_second_admin FROM `+plansTable("settings")+` WHERE tenant_id = $1`,
		tenantID).Scan(&s.DestructiveRequiresSecondAdmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return plan.Settings{}, nil
	}
	if err != nil {
		return plan.Settings{}, fmt.Errorf("get plan settings: %w", err)
	}
	return s, nil
}
