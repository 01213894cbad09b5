package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

func planEvents(t *testing.T, f *idnFixture, tenantID, id string, from int64, events ...domain.Event) []eventstore.RecordedEvent {
	t.Helper()
	out := make([]eventstore.RecordedEvent, len(events))
	for i, ev := range events {
		out[i] = f.event(t, tenantID, plan.Stream(id), from+int64(i), ev)
	}
	return out
}

func outcome(version int, connections []string, usage plan.Usage, rounds int) plan.Outcome {
	p := &plan.Plan{Steps: []plan.Step{{ID: "find", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: connections[0], OperationID: "search"}}}}
	return plan.Outcome{Version: version, Plan: p, Confidence: plan.ConfidenceHigh,
		Confirmation: &plan.Confirmation{Summary: plan.Summary{Steps: 1, Connections: connections}, Credentials: []plan.CredentialUse{}, Tokens: usage},
		Planning:     plan.Planning{Mode: plan.ModeLLM, Model: "m", Usage: usage, Rounds: rounds}}
}

func TestPlansProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewPlansProjector()
	u1 := plan.Usage{PromptTokens: 100, CompletionTokens: 10, TotalTokens: 110}
	u2 := plan.Usage{PromptTokens: 200, CompletionTokens: 20, TotalTokens: 220}
	failed := plan.Outcome{Version: 1, Problems: plan.Problems{{Code: "llm_timeout", Message: "slow"}},
		Planning: plan.Planning{Mode: plan.ModeLLM, Usage: u1, Rounds: 2}}
	events := planEvents(t, f, "t1", "p1", 0,
		plan.Requested{PlanID: "p1", Prompt: "credits of Alien", ConnectionIDs: []string{"movies"}, RequestedBy: "ann"},
		plan.Failed{Outcome: failed},
		plan.Revised{Version: 2, BasedOn: 1, Prompt: "try again", RequestedBy: "bob"},
		plan.Proposed{Outcome: outcome(2, []string{"movies", "notes"}, u2, 1)},
		plan.Confirmed{Version: 2, ConfirmedBy: "cid", Role: "ADMIN"},
	)
	f.apply(t, p, events...)
	f.apply(t, p, events...) // replays change nothing, usage included

	got, err := projections.GetPlan(ctx, f.pool, "t1", "p1")
	require.NoError(t, err)
	assert.Equal(t, "confirmed", got.Status)
	assert.Equal(t, 2, got.LatestVersion)
	assert.Equal(t, "credits of Alien", got.Prompt)
	assert.Equal(t, "ann", got.RequestedBy)
	assert.Equal(t, []string{"movies"}, got.ConnectionIDs)
	assert.Equal(t, []string{"movies", "notes"}, got.Connections)
	assert.Equal(t, &projections.PlanConfirmationView{Version: 2, By: "cid", At: f.base.Add(4 * time.Minute)}, got.Confirmation)
	assert.Nil(t, got.Rejection)
	assert.Equal(t, f.base, got.CreatedAt)
	assert.Equal(t, int64(4), got.StreamVersion)
	require.Len(t, got.Versions, 2)
	assert.Equal(t, 2, got.Versions[0].Number, "the latest version on top")
	assert.Equal(t, "proposed", got.Versions[0].Status)
	assert.Equal(t, "bob", got.Versions[0].RequestedBy)
	assert.Equal(t, 1, got.Versions[0].BasedOn)
	assert.Equal(t, outcome(2, []string{"movies", "notes"}, u2, 1), got.Versions[0].Outcome)
	assert.Equal(t, "failed", got.Versions[1].Status)
	assert.Equal(t, failed, got.Versions[1].Outcome)

	usage, err := projections.GetPlanUsage(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.Equal(t, plan.Usage{PromptTokens: 300, CompletionTokens: 30, TotalTokens: 330}, usage.Usage)
	assert.Equal(t, int64(3), usage.ModelRequests)
	assert.Equal(t, int64(2), usage.PlannedVersions)

	_, err = projections.GetPlan(ctx, f.pool, "t2", "p1")
	assert.ErrorIs(t, err, plan.ErrNotFound, "another tenant does not see it")
	none, err := projections.GetPlanUsage(ctx, f.pool, "t2")
	require.NoError(t, err)
	assert.Zero(t, none)

	// An event stamped with another tenant cannot touch the plan.
	f.apply(t, p, f.event(t, "t2", plan.Stream("p1"), 5, plan.Rejected{Version: 2, Reason: "mine", RejectedBy: "eve"}))
	got, err = projections.GetPlan(ctx, f.pool, "t1", "p1")
	require.NoError(t, err)
	assert.Equal(t, "confirmed", got.Status)
}

func TestPlansRejectedAndListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewPlansProjector()
	for i, id := range []string{"a", "b", "c", "d"} {
		f.base = time.Date(2030, 1, 1, i, 0, 0, 0, time.UTC)
		conn := "movies"
		if id == "c" {
			conn = "notes"
		}
		by := "ann"
		if id == "d" {
			by = "bob"
		}
		f.apply(t, p, planEvents(t, f, "t1", id, 0,
			plan.Requested{PlanID: id, Prompt: "plan " + id, RequestedBy: by},
			plan.Proposed{Outcome: outcome(1, []string{conn}, plan.Usage{}, 1)})...)
	}
	f.apply(t, p, f.event(t, "t1", plan.Stream("b"), 2, plan.Rejected{Version: 1, Reason: "no", RejectedBy: "bob"}))
	f.apply(t, p, planEvents(t, f, "t2", "z", 0, plan.Requested{PlanID: "z", Prompt: "other", RequestedBy: "eve"},
		plan.NoSuitableEndpoint{Outcome: plan.Outcome{Version: 1, Reason: "nothing fits"}})...)

	b, err := projections.GetPlan(ctx, f.pool, "t1", "b")
	require.NoError(t, err)
	assert.Equal(t, "rejected", b.Status)
	require.NotNil(t, b.Rejection)
	assert.Equal(t, projections.PlanRejectionView{By: "bob", Reason: "no", At: b.Rejection.At}, *b.Rejection)

	ids := func(page projections.PlansPage) []string {
		var out []string
		for _, pl := range page.Plans {
			out = append(out, pl.ID)
		}
		return out
	}
	for name, tc := range map[string]struct {
		opts projections.ListPlansOptions
		want []string
	}{
		"newest first":    {projections.ListPlansOptions{}, []string{"d", "c", "b", "a"}},
		"by status":       {projections.ListPlansOptions{Status: "proposed"}, []string{"d", "c", "a"}},
		"by requester":    {projections.ListPlansOptions{RequestedBy: "bob"}, []string{"d"}},
		"by connection":   {projections.ListPlansOptions{ConnectionID: "notes"}, []string{"c"}},
		"nothing matches": {projections.ListPlansOptions{Status: "confirmed"}, nil},
	} {
		page, err := projections.ListPlans(ctx, f.pool, "t1", tc.opts)
		require.NoError(t, err, name)
		assert.Equal(t, tc.want, ids(page), name)
		assert.Empty(t, page.Next, name)
	}
	var seen []string
	after := ""
	for range 3 {
		page, err := projections.ListPlans(ctx, f.pool, "t1", projections.ListPlansOptions{Limit: 3, After: after})
		require.NoError(t, err)
		seen = append(seen, ids(page)...)
		if after = page.Next; after == "" {
			break
		}
	}
	assert.Equal(t, []string{"d", "c", "b", "a"}, seen, "keyset pages")
	_, err = projections.ListPlans(ctx, f.pool, "t1", projections.ListPlansOptions{After: "not-a-cursor"})
	assert.ErrorIs(t, err, domain.ErrInvalid)
	other, err := projections.ListPlans(ctx, f.pool, "t2", projections.ListPlansOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"z"}, ids(other))
	assert.Equal(t, "no_suitable_endpoint", other.Plans[0].Status)
}

func TestPlanSettingsView(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewPlansProjector()
	on := f.event(t, "t1", plan.SettingsStream("t1"), 0, plan.SettingsChanged{Settings: plan.Settings{DestructiveRequiresSecondAdmin: true}})
	off := f.event(t, "t1", plan.SettingsStream("t1"), 1, plan.SettingsChanged{})
	f.apply(t, p, on)
	s, err := projections.GetPlanSettings(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.True(t, s.DestructiveRequiresSecondAdmin)
	f.apply(t, p, off, on) // the older event arriving again changes nothing
	s, err = projections.GetPlanSettings(ctx, f.pool, "t1")
	require.NoError(t, err)
	assert.False(t, s.DestructiveRequiresSecondAdmin)
	s, err = projections.GetPlanSettings(ctx, f.pool, "t2")
	require.NoError(t, err)
	assert.Zero(t, s)
}
