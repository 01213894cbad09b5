package plan

import "github.com/apiq/apiq/adapters/openapi"

// Limits every valid plan stays within.
const (
	// MaxSteps bounds the steps of a plan, foreach bodies included.
	MaxSteps = 50
	// MaxForeachIterations is the largest bound a foreach may declare.
	MaxForeachIterations = 100
	// MaxForeachBodySteps bounds the steps inside one foreach.
	MaxForeachBodySteps = 10
	// MaxInputs bounds the inputs a plan declares.
	MaxInputs = 20
	// MaxIDLength bounds step and input names.
	MaxIDLength = 64
	// MaxExpressionLength bounds the source of one expression.
	MaxExpressionLength = 2000
)

// Plan is a typed, ordered list of steps; its values may refer to its inputs
// and to earlier steps' outputs through expressions (see the package doc).
type Plan struct {
	// Inputs are the values the plan is run with ("inputs.<name>").
	Inputs []Input `json:"inputs,omitempty"`
	// Steps run in order, each at most once (foreach bodies once per item).
	Steps []Step `json:"steps"`
}

// Input declares one value the plan is run with.
type Input struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Type is a JSON Schema type name; empty accepts any value.
	Type     string `json:"type,omitempty"`
	Required bool   `json:"required,omitempty"`
	Default  any    `json:"default,omitempty"`
}

// Kind says what a step does.
type Kind string

// The step kinds.
const (
	// KindCall calls one catalogue operation.
	KindCall Kind = "call"
	// KindCondition evaluates a boolean and gates the steps it lists.
	KindCondition Kind = "condition"
	// KindForeach runs its body of call steps once per element of a list.
	KindForeach Kind = "foreach"
	// KindTransform computes a value from inputs and earlier outputs.
	KindTransform Kind = "transform"
)

// Step is one step of a plan: an id, a kind and the part of that kind.
type Step struct {
	// ID names the step for references ("steps.<id>"): a letter followed
	// by letters, digits or underscores, unique in the plan.
	ID          string `json:"id"`
	Kind        Kind   `json:"kind"`
	Description string `json:"description,omitempty"`
	// Exactly the part matching Kind is set.
	Call      *Call      `json:"call,omitempty"`
	Condition *Condition `json:"condition,omitempty"`
	Foreach   *Foreach   `json:"foreach,omitempty"`
	Transform *Transform `json:"transform,omitempty"`
}

// OperationRef identifies a catalogue operation across connections.
type OperationRef struct {
	ConnectionID string `json:"connection_id"`
	OperationID  string `json:"operation_id"`
}

// Call calls one catalogue operation. Every value (each parameter, the body
// and anything nested in it) is a literal JSON value or contains templates.
type Call struct {
	ConnectionID string `json:"connection_id"`
	OperationID  string `json:"operation_id"`
	// SideEffect is the operation's class in the catalogue (Annotate fills it).
	SideEffect openapi.SideEffect `json:"side_effect,omitempty"`
	Path       map[string]any     `json:"path,omitempty"`
	Query      map[string]any     `json:"query,omitempty"`
	Header     map[string]any     `json:"header,omitempty"`
	Body       any                `json:"body,omitempty"`
}

// Ref returns the operation the call targets.
func (c *Call) Ref() OperationRef {
	return OperationRef{ConnectionID: c.ConnectionID, OperationID: c.OperationID}
}

// Condition evaluates Expr to a boolean: the steps listed in Then run only
// when it is true, those in Else only when it is false (they are skipped
// otherwise). Both list later top-level steps; unlisted steps run anyway.
type Condition struct {
	Expr string   `json:"expr"`
	Then []string `json:"then,omitempty"`
	Else []string `json:"else,omitempty"`
}

// Foreach runs its body of call steps once per element of the list Items
// evaluates to, at most MaxIterations times (elements past the bound are
// not processed). Inside the body "item" is the current element.
type Foreach struct {
	Items         string `json:"items"`
	MaxIterations int    `json:"max_iterations"`
	Steps         []Step `json:"steps"`
}

// Transform computes a value from inputs and earlier outputs.
type Transform struct {
	Expr string `json:"expr"`
}

// Calls lists every call step in plan order, foreach bodies included.
func (p Plan) Calls() []*Step {
	var out []*Step
	for i := range p.Steps {
		s := &p.Steps[i]
		switch {
		case s.Kind == KindCall && s.Call != nil:
			out = append(out, s)
		case s.Kind == KindForeach && s.Foreach != nil:
			for j := range s.Foreach.Steps {
				if b := &s.Foreach.Steps[j]; b.Kind == KindCall && b.Call != nil {
					out = append(out, b)
				}
			}
		}
	}
	return out
}
