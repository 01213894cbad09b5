package commands

import (
	"context"
	"errors"

	"github.com/apiq/apiq/domain/plan"
)

// ConfirmedPlanStore reads confirmed plan versions from their streams, so
// the execution engine runs exactly what was confirmed: versions are
// immutable events, and nothing a call returns can change them. It
// implements ConfirmedPlans.
type ConfirmedPlanStore struct {
	store EventStore
}

var _ ConfirmedPlans = (*ConfirmedPlanStore)(nil)

// NewConfirmedPlanStore reads plans from store.
func NewConfirmedPlanStore(store EventStore) (*ConfirmedPlanStore, error) {
	if store == nil {
		return nil, errors.New("confirmed plans: Store is required")
	}
	return &ConfirmedPlanStore{store: store}, nil
}

// Version returns version n of the tenant's plan (0: the confirmed one)
// when it is confirmed; plan.ErrNotFound, plan.ErrVersionNotFound or
// plan.ErrNotConfirmed (all of kind domain.ErrNotFound) otherwise.
func (c *ConfirmedPlanStore) Version(ctx context.Context, tenantID, planID string, n int) (plan.ConfirmedVersion, error) {
	ls, err := loadPlan(ctx, c.store, tenantID, planID)
	if err != nil {
		return plan.ConfirmedVersion{}, err
	}
	if n == 0 {
		if n = ls.state.Confirmed; n == 0 {
			return plan.ConfirmedVersion{}, plan.ErrNotConfirmed
		}
	}
	return plan.Executable(ls.state, n)
}

// Load implements ConfirmedPlans: the confirmed version's plan and number.
func (c *ConfirmedPlanStore) Load(ctx context.Context, tenantID, planID string, version int64) (plan.Plan, int64, error) {
	v, err := c.Version(ctx, tenantID, planID, int(version))
	if err != nil {
		return plan.Plan{}, 0, err
	}
	return v.Plan, int64(v.Version), nil
}
