package plan

import (
	"slices"

	"github.com/apiq/apiq/adapters/openapi"
)

// Annotate sets every call's SideEffect from the catalogue (calls to
// operations the catalogue lacks are left as they are).
func Annotate(p *Plan, cat Catalogue) {
	for _, s := range p.Calls() {
		if op, ok := cat.Operation(s.Call.Ref()); ok {
			s.Call.SideEffect = op.SideEffect
		}
	}
}

// Summary is what the confirmation screen shows before anything runs.
type Summary struct {
	// Steps counts all steps, foreach bodies included.
	Steps int `json:"steps"`
	// Calls lists the call steps in plan order.
	Calls []CallSummary `json:"calls"`
	// MutatingCalls counts calls that write or destroy; DestructiveCalls
	// those that destroy.
	MutatingCalls    int `json:"mutating_calls"`
	DestructiveCalls int `json:"destructive_calls"`
	// MaxCalls is the most requests the plan can make (foreach bodies
	// counted at their bound).
	MaxCalls int `json:"max_calls"`
	// Connections lists the connections the plan calls, sorted.
	Connections []string `json:"connections"`
}

// CallSummary describes one call step.
type CallSummary struct {
	Step         string             `json:"step"`
	ConnectionID string             `json:"connection_id"`
	OperationID  string             `json:"operation_id"`
	Method       string             `json:"method,omitempty"`
	Path         string             `json:"path,omitempty"`
	Summary      string             `json:"summary,omitempty"`
	SideEffect   openapi.SideEffect `json:"side_effect"`
	Mutating     bool               `json:"mutating"`
	// Foreach names the loop the call runs in; Repeats is then its bound.
	Foreach string `json:"foreach,omitempty"`
	Repeats int    `json:"repeats"`
	// Conditional is set when a condition may skip the call.
	Conditional bool `json:"conditional,omitempty"`
}

// HasDestructive reports whether any call destroys something (a tenant may
// require a second person to confirm such plans).
func (s Summary) HasDestructive() bool { return s.DestructiveCalls > 0 }

// Summarize describes what a plan will do. Method, path, summary and side
// effect come from the catalogue, so the screen shows the catalogue's
// truth rather than what the plan claims.
func Summarize(p Plan, cat Catalogue) Summary {
	gated := map[string]bool{}
	for _, s := range p.Steps {
		if s.Kind == KindCondition && s.Condition != nil {
			for _, id := range append(slices.Clone(s.Condition.Then), s.Condition.Else...) {
				gated[id] = true
			}
		}
	}
	out := Summary{Calls: []CallSummary{}, Connections: []string{}}
	describe := func(s Step, foreach string, repeats int, conditional bool) {
		out.Steps++
		if s.Kind != KindCall || s.Call == nil {
			return
		}
		cs := CallSummary{
			Step: s.ID, ConnectionID: s.Call.ConnectionID, OperationID: s.Call.OperationID,
			SideEffect: s.Call.SideEffect, Foreach: foreach, Repeats: repeats, Conditional: conditional,
		}
		if op, ok := cat.Operation(s.Call.Ref()); ok {
			cs.Method, cs.Path, cs.Summary, cs.SideEffect = op.Method, op.Path, op.Summary, op.SideEffect
		}
		cs.Mutating = cs.SideEffect != openapi.SideEffectRead
		if cs.Mutating {
			out.MutatingCalls++
		}
		if cs.SideEffect == openapi.SideEffectDestructive {
			out.DestructiveCalls++
		}
		out.MaxCalls += repeats
		if !slices.Contains(out.Connections, cs.ConnectionID) {
			out.Connections = append(out.Connections, cs.ConnectionID)
		}
		out.Calls = append(out.Calls, cs)
	}
	for _, s := range p.Steps {
		describe(s, "", 1, gated[s.ID])
		if s.Kind == KindForeach && s.Foreach != nil {
			for _, b := range s.Foreach.Steps {
				describe(b, s.ID, max(s.Foreach.MaxIterations, 0), gated[s.ID])
			}
		}
	}
	slices.Sort(out.Connections)
	return out
}
