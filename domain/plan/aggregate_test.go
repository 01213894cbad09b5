package plan_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// proposal is a proposed outcome calling one operation; destructive
// marks it as deleting something.
func proposal(destructive bool) plan.Result {
	p := &plan.Plan{Steps: []plan.Step{{ID: "find", Kind: plan.KindCall,
		Call: &plan.Call{ConnectionID: "movies", OperationID: "search_movie", Query: map[string]any{"query": "Alien"}}}}}
	conf := &plan.Confirmation{Summary: plan.Summary{Steps: 1, Connections: []string{"movies"}}}
	if destructive {
		conf.DestructiveCalls, conf.MutatingCalls = 1, 1
	}
	return plan.Result{Status: plan.StatusProposed, Outcome: plan.Outcome{Plan: p, Confirmation: conf, Confidence: plan.ConfidenceHigh,
		Planning: plan.Planning{Mode: plan.ModeLLM, Model: "m", Usage: plan.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}}}}
}

func failure() plan.Result {
	return plan.Result{Status: plan.StatusFailed, Outcome: plan.Outcome{
		Problems: plan.Problems{{Step: "find", Code: plan.CodeUnknownOperation, Message: "no such operation"}}}}
}

// fold decides commands in order from nothing, folding every event, and
// returns the state and the last command's events and error.
func fold(t *testing.T, cmds ...plan.Command) (plan.State, []domain.Event, error) {
	t.Helper()
	var s plan.State
	var last []domain.Event
	var err error
	for i, c := range cmds {
		last, err = plan.Decide(s, c)
		if i < len(cmds)-1 {
			require.NoError(t, err, "command %d", i)
		}
		for _, ev := range last {
			s = plan.Evolve(s, roundTrip(t, ev))
		}
	}
	return s, last, err
}

// roundTrip encodes and decodes an event as the store does.
func roundTrip(t *testing.T, ev domain.Event) domain.Event {
	t.Helper()
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	back, ok, err := plan.Decode(ev.EventType(), ev.SchemaVersion(), data)
	require.NoError(t, err)
	require.True(t, ok, ev.EventType())
	return back
}

func request(result plan.Result) plan.Request {
	return plan.Request{PlanID: "p1", Prompt: "  credits of Alien ", ConnectionIDs: []string{"movies", "movies"}, By: "ann", Result: result}
}

func TestRequestRecordsTheFirstVersion(t *testing.T) {
	t.Parallel()
	s, events, err := fold(t, request(proposal(false)))
	require.NoError(t, err)
	require.Len(t, events, 2)
	assert.Equal(t, plan.Requested{PlanID: "p1", Prompt: "credits of Alien", ConnectionIDs: []string{"movies"}, RequestedBy: "ann"}, events[0])
	assert.IsType(t, plan.Proposed{}, events[1])
	assert.Equal(t, plan.StatusProposed, s.Status())
	v, ok := s.Latest()
	require.True(t, ok)
	assert.Equal(t, 1, v.Number)
	assert.Equal(t, 1, v.Outcome.Version)
	assert.Equal(t, "search_movie", v.Outcome.Plan.Steps[0].Call.OperationID)

	_, _, err = fold(t, request(proposal(false)), request(proposal(false)))
	assert.ErrorIs(t, err, plan.ErrAlreadyExists)
}

func TestRequestRefusesBadInput(t *testing.T) {
	t.Parallel()
	long := make([]byte, plan.MaxPromptRunes+1)
	for i := range long {
		long[i] = 'a'
	}
	many := make([]string, plan.MaxConnectionFilter+1)
	for i := range many {
		many[i] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for name, tc := range map[string]struct {
		cmd  plan.Request
		code string
	}{
		"empty prompt":     {plan.Request{PlanID: "p", Prompt: "  ", Result: proposal(false)}, "invalid_prompt"},
		"long prompt":      {plan.Request{PlanID: "p", Prompt: string(long), Result: proposal(false)}, "invalid_prompt"},
		"empty connection": {plan.Request{PlanID: "p", Prompt: "x", ConnectionIDs: []string{""}, Result: proposal(false)}, "invalid_connection_id"},
		"many connections": {plan.Request{PlanID: "p", Prompt: "x", ConnectionIDs: many, Result: proposal(false)}, "too_many_connections"},
		"no id":            {plan.Request{Prompt: "x", Result: proposal(false)}, "missing_id"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := plan.Decide(plan.State{}, tc.cmd)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.code, de.Code)
			assert.ErrorIs(t, err, domain.ErrInvalid)
		})
	}
	_, err := plan.Decide(plan.State{}, plan.Request{PlanID: "p", Prompt: "x", Result: plan.Result{Status: plan.StatusProposed}})
	assert.Error(t, err, "a proposal without steps is the planner's bug")
	_, err = plan.Decide(plan.State{}, plan.Request{PlanID: "p", Prompt: "x", Result: plan.Result{Status: plan.StatusFailed}})
	assert.Error(t, err, "a failure without problems is the planner's bug")
}

func TestReviseAddsImmutableVersions(t *testing.T) {
	t.Parallel()
	s, events, err := fold(t, request(failure()),
		plan.Revise{Prompt: "use search_movie", By: "bob", BasedOn: 1, Result: proposal(false)})
	require.NoError(t, err)
	assert.Equal(t, plan.Revised{Version: 2, BasedOn: 1, Prompt: "use search_movie", RequestedBy: "bob"}, events[0])
	require.Len(t, s.Versions, 2)
	assert.Equal(t, plan.StatusFailed, s.Versions[0].Status, "version 1 keeps its outcome")
	assert.Equal(t, plan.StatusProposed, s.Versions[1].Status)
	assert.Equal(t, plan.StatusProposed, s.Status())
	assert.Equal(t, []string{"ann", "bob"}, s.Requesters(2))
	assert.Equal(t, []string{"ann"}, s.Requesters(1))

	_, _, err = fold(t, request(proposal(false)), plan.Revise{Prompt: "x", BasedOn: 7, Result: proposal(false)})
	assert.ErrorIs(t, err, plan.ErrVersionNotFound)
	_, _, err = fold(t, plan.Revise{Prompt: "x", BasedOn: 1, Result: proposal(false)})
	assert.ErrorIs(t, err, plan.ErrNotFound)
}

func TestEvolveLeavesEarlierStatesAlone(t *testing.T) {
	t.Parallel()
	s1, _, err := fold(t, request(proposal(false)))
	require.NoError(t, err)
	events, err := plan.Decide(s1, plan.Revise{Prompt: "again", By: "ann", BasedOn: 1, Result: failure()})
	require.NoError(t, err)
	s2 := s1
	for _, ev := range events {
		s2 = plan.Evolve(s2, ev)
	}
	assert.Len(t, s1.Versions, 1)
	assert.Equal(t, plan.StatusProposed, s1.Versions[0].Status)
	assert.Len(t, s2.Versions, 2)
}

func TestConfirm(t *testing.T) {
	t.Parallel()
	revise := plan.Revise{Prompt: "again", By: "bob", BasedOn: 1, Result: proposal(true)}
	for name, tc := range map[string]struct {
		cmds []plan.Command
		want error
		// confirmed is the version the last command confirms.
		confirmed int
	}{
		"latest by default":          {cmds: []plan.Command{request(proposal(false)), plan.Confirm{By: "ann", Role: "USER"}}, confirmed: 1},
		"named version":              {cmds: []plan.Command{request(proposal(false)), plan.Confirm{Version: 1, By: "ann", Role: "USER"}}, confirmed: 1},
		"missing version":            {cmds: []plan.Command{request(proposal(false)), plan.Confirm{Version: 2, By: "ann"}}, want: plan.ErrVersionNotFound},
		"superseded version":         {cmds: []plan.Command{request(proposal(false)), revise, plan.Confirm{Version: 1, By: "ann"}}, want: plan.ErrVersionSuperseded},
		"failed version":             {cmds: []plan.Command{request(failure()), plan.Confirm{By: "ann"}}, want: plan.ErrNotConfirmable},
		"no plan":                    {cmds: []plan.Command{plan.Confirm{By: "ann"}}, want: plan.ErrNotFound},
		"rejected plan":              {cmds: []plan.Command{request(proposal(false)), plan.Reject{Reason: "no", By: "ann"}, plan.Confirm{By: "ann"}}, want: plan.ErrRejected},
		"destructive without rule":   {cmds: []plan.Command{request(proposal(true)), plan.Confirm{By: "ann", Role: "USER"}}, confirmed: 1},
		"rule, not destructive":      {cmds: []plan.Command{request(proposal(false)), plan.Confirm{By: "ann", Role: "USER", SecondPersonRule: true}}, confirmed: 1},
		"rule, requester confirms":   {cmds: []plan.Command{request(proposal(true)), plan.Confirm{By: "ann", Role: "ADMIN", SecondPersonRule: true}}, want: plan.ErrSecondPersonRequired},
		"rule, a USER confirms":      {cmds: []plan.Command{request(proposal(true)), plan.Confirm{By: "cid", Role: "USER", SecondPersonRule: true}}, want: plan.ErrSecondPersonRequired},
		"rule, the reviser confirms": {cmds: []plan.Command{request(proposal(false)), revise, plan.Confirm{By: "bob", Role: "ADMIN", SecondPersonRule: true}}, want: plan.ErrSecondPersonRequired},
		"rule, another ADMIN":        {cmds: []plan.Command{request(proposal(false)), revise, plan.Confirm{By: "cid", Role: "ADMIN", SecondPersonRule: true}}, confirmed: 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, events, err := fold(t, tc.cmds...)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
				assert.Empty(t, events)
				return
			}
			require.NoError(t, err)
			require.Len(t, events, 1)
			assert.Equal(t, tc.confirmed, events[0].(plan.Confirmed).Version)
			assert.Equal(t, plan.StatusConfirmed, s.Status())
		})
	}
}

func TestConfirmRecordsWhoAndWhy(t *testing.T) {
	t.Parallel()
	_, events, err := fold(t, request(proposal(true)), plan.Confirm{By: "cid", Role: "ADMIN", SecondPersonRule: true})
	require.NoError(t, err)
	assert.Equal(t, []domain.Event{plan.Confirmed{Version: 1, ConfirmedBy: "cid", Role: "ADMIN", Destructive: true, SecondPerson: true}}, events)

	// Confirming the confirmed version again changes nothing; another
	// version, a revision or a rejection is refused.
	confirmed := []plan.Command{request(proposal(false)), plan.Confirm{By: "ann"}}
	_, events, err = fold(t, append(confirmed, plan.Confirm{Version: 1, By: "ann"})...)
	require.NoError(t, err)
	assert.Empty(t, events)
	_, _, err = fold(t, append(confirmed, plan.Revise{Prompt: "x", BasedOn: 1, Result: proposal(false)})...)
	assert.ErrorIs(t, err, plan.ErrConfirmed)
	_, _, err = fold(t, append(confirmed, plan.Reject{Reason: "late", By: "ann"})...)
	assert.ErrorIs(t, err, plan.ErrConfirmed)
}

func TestReject(t *testing.T) {
	t.Parallel()
	s, events, err := fold(t, request(proposal(false)), plan.Reject{Reason: " too risky ", By: "bob"})
	require.NoError(t, err)
	assert.Equal(t, []domain.Event{plan.Rejected{Version: 1, Reason: "too risky", RejectedBy: "bob"}}, events)
	assert.Equal(t, plan.StatusRejected, s.Status())

	_, events, err = fold(t, request(proposal(false)), plan.Reject{Reason: "no", By: "bob"}, plan.Reject{Reason: "no", By: "bob"})
	require.NoError(t, err)
	assert.Empty(t, events, "rejecting twice changes nothing")
	_, _, err = fold(t, request(proposal(false)), plan.Reject{By: "bob"})
	assert.ErrorIs(t, err, domain.ErrInvalid, "a reason is required")
	_, _, err = fold(t, request(proposal(false)), plan.Reject{Reason: "no"}, plan.Revise{Prompt: "x", BasedOn: 1, Result: proposal(false)})
	assert.ErrorIs(t, err, plan.ErrRejected)
}

func TestExecutableIsTheConfirmedVersionOnly(t *testing.T) {
	t.Parallel()
	s, _, err := fold(t, request(proposal(false)))
	require.NoError(t, err)
	_, err = plan.Executable(s, 1)
	assert.ErrorIs(t, err, plan.ErrNotConfirmed, "a proposed version does not run")

	s, _, err = fold(t, request(proposal(false)), plan.Confirm{By: "ann", Role: "USER"})
	require.NoError(t, err)
	got, err := plan.Executable(s, 1)
	require.NoError(t, err)
	assert.Equal(t, "p1", got.PlanID)
	assert.Equal(t, "ann", got.ConfirmedBy)
	assert.Equal(t, "search_movie", got.Plan.Steps[0].Call.OperationID)
	_, err = plan.Executable(s, 2)
	assert.ErrorIs(t, err, plan.ErrVersionNotFound)
	_, err = plan.Executable(plan.State{}, 1)
	assert.ErrorIs(t, err, plan.ErrNotFound)
}

func TestSettings(t *testing.T) {
	t.Parallel()
	var s plan.SettingsState
	on := plan.ChangeSettings{Settings: plan.Settings{DestructiveRequiresSecondAdmin: true}}
	events, err := plan.DecideSettings(s, on)
	require.NoError(t, err)
	require.Len(t, events, 1)
	s = plan.EvolveSettings(s, roundTrip(t, events[0]))
	assert.True(t, s.Settings.DestructiveRequiresSecondAdmin)
	events, err = plan.DecideSettings(s, on)
	require.NoError(t, err)
	assert.Empty(t, events, "the same settings again change nothing")
}

func TestStreams(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "plan-p1", plan.Stream("p1"))
	assert.Equal(t, "p1", plan.IDFromStream(plan.Stream("p1")))
	assert.Equal(t, "plansettings-t1", plan.SettingsStream("t1"))
	_, ok, err := plan.Decode("connection.registered", 1, nil)
	assert.NoError(t, err)
	assert.False(t, ok)
	_, _, err = plan.Decode(plan.TypeProposed, 2, []byte(`{}`))
	assert.Error(t, err, "a newer schema version is refused")
}
