package commands_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

func TestRequestPlanRecordsWhatWasAskedAndAnswered(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t, nil)
	e.registerMovies(t, "acme")
	e.script.push(searchThenCredits(t))
	ctx := within(t, time.Minute)
	ann := person("acme", "ann", "USER", "plan-1")

	res, err := e.request.Handle(ctx, ann, commands.RequestPlan{Prompt: " Who plays in Inception? "})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusProposed, res.Status)
	assert.Equal(t, 1, res.Version)
	assert.False(t, res.Position.IsZero())

	recorded := e.stream(t, plan.Stream(res.PlanID))
	require.Len(t, recorded, 2, "requested and its outcome in one append")
	assert.Equal(t, plan.TypeRequested, recorded[0].Type)
	assert.Equal(t, plan.TypeProposed, recorded[1].Type)
	for _, rec := range recorded {
		assert.Equal(t, "acme", rec.Metadata.TenantID)
		assert.Equal(t, "ann", rec.Metadata.Actor.Subject)
		assert.Equal(t, "127.0.0.1", rec.Metadata.ClientIP)
	}
	requested := decodeAs[plan.Requested](t, recorded[0])
	assert.Equal(t, plan.Requested{PlanID: res.PlanID, Prompt: "Who plays in Inception?", RequestedBy: "ann"}, requested)
	proposed := decodeAs[plan.Proposed](t, recorded[1])
	assert.Equal(t, 1, proposed.Version)
	assert.Len(t, proposed.Plan.Steps, 2)
	assert.Equal(t, 770, proposed.Planning.Usage.TotalTokens)
	assert.Empty(t, proposed.Planning.TranscriptHash, "a small transcript stays in the event")
	var transcript llm.Transcript
	require.NoError(t, json.Unmarshal(proposed.Planning.Transcript, &transcript))
	assert.Equal(t, "test-model", transcript.Model)
	assert.Positive(t, proposed.Planning.TranscriptBytes)

	// A retried request finds its plan and asks the model nothing.
	again, err := e.request.Handle(ctx, ann, commands.RequestPlan{Prompt: "Who plays in Inception?"})
	require.NoError(t, err)
	assert.Equal(t, res, again)
	assert.Len(t, e.model.Requests(), 1)
	assert.Len(t, e.stream(t, plan.Stream(res.PlanID)), 2)

	_, err = e.request.Handle(ctx, person("acme", "ann", "USER", "plan-2"), commands.RequestPlan{Prompt: " "})
	assert.ErrorIs(t, err, domain.ErrInvalid)
	assert.Len(t, e.model.Requests(), 1, "an empty prompt is refused before planning")
}

func TestLargeTranscriptsGoToTheBlobStore(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t, func(d *commands.PlanDeps) { d.MaxInlineTranscript = 512 })
	e.registerMovies(t, "acme")
	e.script.push(searchThenCredits(t))
	ctx := within(t, time.Minute)
	res, err := e.request.Handle(ctx, person("acme", "ann", "USER", "plan-1"), commands.RequestPlan{Prompt: "Who plays in Inception?"})
	require.NoError(t, err)
	proposed := decodeAs[plan.Proposed](t, e.stream(t, plan.Stream(res.PlanID))[1])
	assert.Empty(t, proposed.Planning.Transcript)
	require.NotEmpty(t, proposed.Planning.TranscriptHash)
	raw, err := e.blobs.Get(ctx, proposed.Planning.TranscriptHash)
	require.NoError(t, err)
	assert.Equal(t, blobstore.Hash(raw), proposed.Planning.TranscriptHash)
	assert.Len(t, raw, proposed.Planning.TranscriptBytes)
	var transcript llm.Transcript
	require.NoError(t, json.Unmarshal(raw, &transcript))
	assert.Len(t, transcript.Rounds, 1)
}

func TestReviseConfirmReject(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t, nil)
	e.registerMovies(t, "acme")
	ctx := within(t, time.Minute)
	ann := func(id string) commands.Meta { return person("acme", "ann", "USER", id) }

	// A failed first version, revised into a proposed one.
	invalid := calls(t, 400, "GET_movie-movie_id-credits", map[string]any{"step_id": "credits", "movie_id": "Inception"})
	e.script.push(invalid, invalid, searchThenCredits(t))
	first, err := e.request.Handle(ctx, ann("r1"), commands.RequestPlan{Prompt: "credits of Inception"})
	require.NoError(t, err)
	require.Equal(t, plan.StatusFailed, first.Status)
	_, err = e.confirm.Handle(ctx, ann("c0"), commands.ConfirmPlan{PlanID: first.PlanID})
	assert.ErrorIs(t, err, plan.ErrNotConfirmable, "a failed version cannot be confirmed")

	second, err := e.revise.Handle(ctx, ann("v2"), commands.RevisePlan{PlanID: first.PlanID, Prompt: "search the movie first"})
	require.NoError(t, err)
	assert.Equal(t, commands.PlanResult{PlanID: first.PlanID, Version: 2, Status: plan.StatusProposed, Position: second.Position}, second)
	revision := e.model.Requests()[2].Body.Messages[1].Content
	assert.Contains(t, revision, "credits of Inception")
	assert.Contains(t, revision, "search the movie first")
	replayed, err := e.revise.Handle(ctx, ann("v2"), commands.RevisePlan{PlanID: first.PlanID, Prompt: "search the movie first"})
	require.NoError(t, err)
	assert.Equal(t, second, replayed, "a retried revision records nothing new")
	assert.Len(t, e.model.Requests(), 3)

	_, err = e.confirm.Handle(ctx, ann("c1"), commands.ConfirmPlan{PlanID: first.PlanID, Version: 1})
	assert.ErrorIs(t, err, plan.ErrVersionSuperseded)
	_, _, err = e.plans.Load(ctx, "acme", first.PlanID, 0)
	assert.ErrorIs(t, err, domain.ErrNotFound, "nothing runs before confirmation")

	confirmed, err := e.confirm.Handle(ctx, ann("c2"), commands.ConfirmPlan{PlanID: first.PlanID, Version: 2})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusConfirmed, confirmed.Status)
	p, version, err := e.plans.Load(ctx, "acme", first.PlanID, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(2), version)
	assert.Equal(t, "GET_search-movie", p.Steps[0].Call.OperationID)
	_, _, err = e.plans.Load(ctx, "acme", first.PlanID, 1)
	assert.ErrorIs(t, err, plan.ErrNotConfirmed, "only the confirmed version runs")
	_, _, err = e.plans.Load(ctx, "globex", first.PlanID, 2)
	assert.ErrorIs(t, err, plan.ErrNotFound, "another tenant's plan does not exist")

	_, err = e.revise.Handle(ctx, ann("v3"), commands.RevisePlan{PlanID: first.PlanID, Prompt: "more"})
	assert.ErrorIs(t, err, plan.ErrConfirmed)
	_, err = e.reject.Handle(ctx, ann("j1"), commands.RejectPlan{PlanID: first.PlanID, Reason: "late"})
	assert.ErrorIs(t, err, plan.ErrConfirmed)
	assert.Len(t, e.model.Requests(), 3, "a confirmed plan is not revised: no model call")

	// Another plan, rejected.
	e.script.push(searchThenCredits(t))
	other, err := e.request.Handle(ctx, ann("r2"), commands.RequestPlan{Prompt: "credits of Inception"})
	require.NoError(t, err)
	rejected, err := e.reject.Handle(ctx, person("acme", "bob", "ADMIN", "j2"), commands.RejectPlan{PlanID: other.PlanID, Reason: "not now"})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusRejected, rejected.Status)
	recorded := e.stream(t, plan.Stream(other.PlanID))
	assert.Equal(t, plan.Rejected{Version: 1, Reason: "not now", RejectedBy: "bob"}, decodeAs[plan.Rejected](t, recorded[len(recorded)-1]))
	_, err = e.confirm.Handle(ctx, ann("c3"), commands.ConfirmPlan{PlanID: other.PlanID})
	assert.ErrorIs(t, err, plan.ErrRejected)
}

func TestPlansOfAnotherTenantAreNotFound(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t, nil)
	e.registerMovies(t, "acme")
	e.script.push(searchThenCredits(t))
	ctx := within(t, time.Minute)
	res, err := e.request.Handle(ctx, person("acme", "ann", "USER", "r1"), commands.RequestPlan{Prompt: "credits of Inception"})
	require.NoError(t, err)
	intruder := func(id string) commands.Meta { return person("globex", "eve", "ADMIN", id) }
	_, err = e.confirm.Handle(ctx, intruder("c"), commands.ConfirmPlan{PlanID: res.PlanID})
	assert.ErrorIs(t, err, plan.ErrNotFound)
	_, err = e.reject.Handle(ctx, intruder("j"), commands.RejectPlan{PlanID: res.PlanID, Reason: "mine now"})
	assert.ErrorIs(t, err, plan.ErrNotFound)
	_, err = e.revise.Handle(ctx, intruder("v"), commands.RevisePlan{PlanID: res.PlanID, Prompt: "x"})
	assert.ErrorIs(t, err, plan.ErrNotFound)
	assert.Len(t, e.stream(t, plan.Stream(res.PlanID)), 2, "nothing was appended")
	assert.Len(t, e.model.Requests(), 1)
}

func TestDestructivePlansNeedASecondAdminWhenTheTenantSaysSo(t *testing.T) {
	t.Parallel()
	e := newPlanEnv(t, nil)
	e.registerMovies(t, "acme")
	ctx := within(t, time.Minute)
	ann := person("acme", "ann", "ADMIN", "")

	_, err := e.settings.Handle(ctx, person("acme", "ursula", "USER", "s0"), commands.ChangePlanSettings{
		Settings: plan.Settings{DestructiveRequiresSecondAdmin: true}})
	assert.ErrorIs(t, err, commands.ErrPlanSettingsNeedAdmin)
	set, err := e.settings.Handle(ctx, person("acme", "ann", "ADMIN", "s1"), commands.ChangePlanSettings{
		Settings: plan.Settings{DestructiveRequiresSecondAdmin: true}})
	require.NoError(t, err)
	assert.True(t, set.Settings.DestructiveRequiresSecondAdmin)

	e.script.push(unrate(t), searchThenCredits(t))
	ann.RequestID = "r1"
	destructive, err := e.request.Handle(ctx, ann, commands.RequestPlan{Prompt: "delete my rating of Inception"})
	require.NoError(t, err)
	require.Equal(t, plan.StatusProposed, destructive.Status)
	ann.RequestID = "r2"
	harmless, err := e.request.Handle(ctx, ann, commands.RequestPlan{Prompt: "credits of Inception"})
	require.NoError(t, err)

	for _, m := range []commands.Meta{
		person("acme", "ann", "ADMIN", "c1"), // the requester, although an ADMIN
		person("acme", "carl", "USER", "c2"), // another person, not an ADMIN
	} {
		_, err = e.confirm.Handle(ctx, m, commands.ConfirmPlan{PlanID: destructive.PlanID})
		assert.ErrorIs(t, err, plan.ErrSecondPersonRequired, m.Actor.Subject)
		assert.ErrorIs(t, err, domain.ErrForbidden)
	}
	_, err = e.confirm.Handle(ctx, person("acme", "ann", "ADMIN", "c3"), commands.ConfirmPlan{PlanID: harmless.PlanID})
	assert.NoError(t, err, "the rule is for destructive plans only")
	res, err := e.confirm.Handle(ctx, person("acme", "dora", "ADMIN", "c4"), commands.ConfirmPlan{PlanID: destructive.PlanID})
	require.NoError(t, err)
	assert.Equal(t, plan.StatusConfirmed, res.Status)
	recorded := e.stream(t, plan.Stream(destructive.PlanID))
	assert.Equal(t, plan.Confirmed{Version: 1, ConfirmedBy: "dora", Role: "ADMIN", Destructive: true, SecondPerson: true},
		decodeAs[plan.Confirmed](t, recorded[len(recorded)-1]))

	// Without the setting, the requester confirms their own destructive plan.
	_, err = e.settings.Handle(ctx, person("acme", "ann", "ADMIN", "s2"), commands.ChangePlanSettings{})
	require.NoError(t, err)
	e.script.push(unrate(t))
	ann.RequestID = "r3"
	again, err := e.request.Handle(ctx, ann, commands.RequestPlan{Prompt: "delete my rating of Inception"})
	require.NoError(t, err)
	_, err = e.confirm.Handle(ctx, person("acme", "ann", "ADMIN", "c5"), commands.ConfirmPlan{PlanID: again.PlanID})
	assert.NoError(t, err)
}
