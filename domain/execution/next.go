package execution

import (
	"fmt"
	"slices"

	"github.com/apiq/apiq/domain/plan"
)

// Unit is the next thing to do in an execution: one top-level step, or
// one body step of one foreach iteration.
type Unit struct {
	// Key identifies the unit in the stream: the step id, or
	// "<foreach id>[<iteration>].<body step id>".
	Key  string
	Step *plan.Step
	// Skip says a condition ruled the step out (SkipReason says which).
	Skip       bool
	SkipReason string
	// Env is what the unit's expressions see.
	Env plan.Env
}

// Key of a body step within a foreach iteration.
func iterationKey(foreachID string, i int, stepID string) string {
	return fmt.Sprintf("%s[%d].%s", foreachID, i, stepID)
}

// settled reports whether a key needs nothing more.
func (s State) settled(key string) bool {
	st, ok := s.Steps[key]
	return ok && (st.Status == StepStatusSucceeded || st.Status == StepStatusSkipped)
}

// Next walks the plan in order and returns the first unit not yet settled;
// done is true when every step succeeded or was skipped. Outputs of calls
// with capped bodies must have been filled in (State.Steps[k].Output)
// before. An error means a foreach's items could not be evaluated; it
// names the foreach step.
func Next(s State) (u Unit, done bool, err error) {
	env := plan.Env{Inputs: s.Inputs, Steps: map[string]plan.StepResult{}}
	gated := map[string]string{} // step id → reason it is skipped
	for i := range s.Plan.Steps {
		step := &s.Plan.Steps[i]
		if reason, skip := gated[step.ID]; skip {
			if !s.settled(step.ID) {
				return Unit{Key: step.ID, Step: step, Skip: true, SkipReason: reason, Env: env}, false, nil
			}
			env.Steps[step.ID] = plan.StepResult{}
			continue
		}
		if step.Kind != plan.KindForeach {
			if !s.settled(step.ID) {
				return Unit{Key: step.ID, Step: step, Env: env}, false, nil
			}
			st := s.Steps[step.ID]
			env.Steps[step.ID] = plan.StepResult{Output: st.Output, Status: st.HTTPStatus}
			if step.Kind == plan.KindCondition && step.Condition != nil && st.Status == StepStatusSucceeded {
				truth, _ := st.Output.(bool)
				ruledOut, reason := step.Condition.Else, "condition "+step.ID+" was true"
				if !truth {
					ruledOut, reason = step.Condition.Then, "condition "+step.ID+" was false"
				}
				for _, id := range ruledOut {
					gated[id] = reason
				}
			}
			continue
		}
		fe := step.Foreach
		if fe == nil {
			return Unit{}, false, fmt.Errorf("step %s: foreach without its definition", step.ID)
		}
		items, err := evalItems(fe.Items, env)
		if err != nil {
			return Unit{Key: step.ID, Step: step, Env: env}, false, fmt.Errorf("step %s: items: %w", step.ID, err)
		}
		if n := fe.MaxIterations; n > 0 && len(items) > n {
			items = items[:n]
		}
		outputs := make([]any, 0, len(items))
		for it, item := range items {
			inner := plan.Env{Inputs: env.Inputs, Steps: cloneResults(env.Steps), Item: item}
			iteration := map[string]any{}
			for j := range fe.Steps {
				body := &fe.Steps[j]
				key := iterationKey(step.ID, it, body.ID)
				if !s.settled(key) {
					return Unit{Key: key, Step: body, Env: inner}, false, nil
				}
				st := s.Steps[key]
				inner.Steps[body.ID] = plan.StepResult{Output: st.Output, Status: st.HTTPStatus}
				iteration[body.ID] = st.Output
			}
			outputs = append(outputs, iteration)
		}
		env.Steps[step.ID] = plan.StepResult{Output: outputs}
	}
	return Unit{Env: env}, true, nil
}

func evalItems(source string, env plan.Env) ([]any, error) {
	e, err := plan.Compile(source)
	if err != nil {
		return nil, err
	}
	return e.EvalList(env)
}

func cloneResults(m map[string]plan.StepResult) map[string]plan.StepResult {
	out := make(map[string]plan.StepResult, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Keys lists the keys in s whose step id is id (a top-level step or every
// iteration of a body step), in order.
func (s State) Keys(id string) []string {
	return slices.DeleteFunc(slices.Clone(s.Order), func(k string) bool { return s.Steps[k].StepID != id })
}
