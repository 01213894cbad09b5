package execution_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/execution"
	"github.com/apiq/apiq/domain/plan"
)

func samplePlan() plan.Plan {
	return plan.Plan{Steps: []plan.Step{
		{ID: "make", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "createUser", Body: map[string]any{"name": "${ inputs.name }"}}},
		{ID: "big", Kind: plan.KindCondition, Condition: &plan.Condition{Expr: "steps.make.output.id > 10", Then: []string{"shout"}, Else: []string{"each"}}},
		{ID: "shout", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "'big'"}},
		{ID: "each", Kind: plan.KindForeach, Foreach: &plan.Foreach{Items: "inputs.todos", MaxIterations: 2, Steps: []plan.Step{
			{ID: "todo", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "createTodo"}},
		}}},
	}}
}

func fold(events ...domain.Event) execution.State {
	var s execution.State
	for _, ev := range events {
		s = execution.Evolve(s, ev)
	}
	return s
}

func started() execution.Started {
	return execution.Started{ExecutionID: "e1", PlanID: "p1", PlanVersion: 1, Plan: samplePlan(),
		Inputs: map[string]any{"name": "ann", "todos": []any{"a", "b", "c"}}, MaxAttempts: 3}
}

func succeeded(key, body string) execution.StepSucceeded {
	return execution.StepSucceeded{Key: key, Attempt: 1, Status: 201, Response: &execution.Response{Status: 201, Body: body}}
}

func TestNextWalksConditionsAndBoundedForeach(t *testing.T) {
	t.Parallel()
	call := func(key, id string) execution.StepStarted {
		return execution.StepStarted{Key: key, StepID: id, Kind: plan.KindCall, Attempt: 1}
	}
	tests := []struct {
		name     string
		events   []domain.Event
		wantKey  string
		wantSkip bool
		wantDone bool
	}{
		{name: "first step first", events: []domain.Event{started()}, wantKey: "make"},
		{name: "a started step is not settled", events: []domain.Event{started(), call("make", "make")}, wantKey: "make"},
		{name: "condition after the call", events: []domain.Event{started(), call("make", "make"), succeeded("make", `{"id":3}`)}, wantKey: "big"},
		{name: "false condition skips then",
			events: []domain.Event{started(), call("make", "make"), succeeded("make", `{"id":3}`),
				execution.StepSucceeded{Key: "big", Output: false}},
			wantKey: "shout", wantSkip: true},
		{name: "foreach iterations up to the bound",
			events: []domain.Event{started(), call("make", "make"), succeeded("make", `{"id":3}`),
				execution.StepSucceeded{Key: "big", Output: false}, execution.StepSkipped{Key: "shout", StepID: "shout"},
				call("each[0].todo", "todo"), succeeded("each[0].todo", `{"id":1}`)},
			wantKey: "each[1].todo"},
		{name: "done after the bound",
			events: []domain.Event{started(), call("make", "make"), succeeded("make", `{"id":3}`),
				execution.StepSucceeded{Key: "big", Output: false}, execution.StepSkipped{Key: "shout", StepID: "shout"},
				call("each[0].todo", "todo"), succeeded("each[0].todo", `{"id":1}`),
				call("each[1].todo", "todo"), succeeded("each[1].todo", `{"id":2}`)},
			wantDone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, done, err := execution.Next(fold(tt.events...))
			require.NoError(t, err)
			assert.Equal(t, tt.wantDone, done)
			assert.Equal(t, tt.wantKey, u.Key)
			assert.Equal(t, tt.wantSkip, u.Skip)
		})
	}
}

func TestNextGivesBodyStepsTheirItemAndEarlierOutputs(t *testing.T) {
	t.Parallel()
	s := fold(started(), succeeded("make", `{"id":3}`), execution.StepSucceeded{Key: "big", Output: false},
		execution.StepSkipped{Key: "shout", StepID: "shout"})
	u, _, err := execution.Next(s)
	require.NoError(t, err)
	assert.Equal(t, "a", u.Env.Item)
	assert.Equal(t, map[string]any{"id": float64(3)}, u.Env.Steps["make"].Output)
}

func TestDecide(t *testing.T) {
	t.Parallel()
	running := fold(started())
	finished := fold(started(), execution.Completed{})
	tests := []struct {
		name    string
		state   execution.State
		cmd     execution.Command
		wantErr error
		want    int
	}{
		{name: "start once", state: execution.State{}, cmd: execution.Start{Started: started()}, want: 1},
		{name: "start twice", state: running, cmd: execution.Start{Started: started()}, wantErr: execution.ErrAlreadyExists},
		{name: "record while running", state: running, cmd: execution.Record{Events: []domain.Event{succeeded("make", "{}"), execution.Completed{}}}, want: 2},
		{name: "terminal must be last", state: running, cmd: execution.Record{Events: []domain.Event{execution.Completed{}, succeeded("make", "{}")}}, wantErr: domain.ErrInvalid},
		{name: "nothing after the end", state: finished, cmd: execution.Record{Events: []domain.Event{succeeded("make", "{}")}}, wantErr: execution.ErrFinished},
		{name: "cancel while running", state: running, cmd: execution.Cancel{Reason: "stop"}, want: 1},
		{name: "cancel after the end", state: finished, cmd: execution.Cancel{}, wantErr: domain.ErrConflict},
		{name: "cancel unknown", state: execution.State{}, cmd: execution.Cancel{}, wantErr: domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := execution.Decide(tt.state, tt.cmd)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Len(t, events, tt.want)
		})
	}
}

func TestEvolveTracksStatusAndUnknownOutcome(t *testing.T) {
	t.Parallel()
	s := fold(started(), execution.StepStarted{Key: "make", StepID: "make", Kind: plan.KindCall, Attempt: 1})
	assert.Equal(t, execution.StatusRunning, s.Status)
	assert.Equal(t, "make", s.InFlight)
	s = execution.Evolve(s, execution.NeedsAttention{Key: "make", Reason: "outcome unknown"})
	assert.Equal(t, execution.StatusNeedsAttention, s.Status)
	assert.Equal(t, execution.StepStatusUnknown, s.Steps["make"].Status)
	assert.Empty(t, s.InFlight)
	assert.True(t, s.Status.Terminal())
}
