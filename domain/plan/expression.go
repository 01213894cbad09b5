package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Env is what expressions see while a plan runs: the plan's inputs, the
// results of the steps that ran so far, and inside a foreach body the
// current element.
type Env struct {
	Inputs map[string]any        `expr:"inputs" json:"inputs"`
	Steps  map[string]StepResult `expr:"steps" json:"steps"`
	Item   any                   `expr:"item" json:"item,omitempty"`
}

// StepResult is one step's result as expressions see it.
//
// Output is a call's decoded response body, a condition's boolean, a
// transform's value, and for a foreach one element per iteration: an object
// mapping each body step id to that step's output in the iteration. Status
// is a call's HTTP status code. A step that was skipped (or has not run)
// has a nil Output and Status 0.
type StepResult struct {
	Output any `expr:"output" json:"output"`
	Status int `expr:"status" json:"status"`
}

// ErrExpression marks an expression that does not compile or evaluate.
var ErrExpression = errors.New("expression")

// maxExpressionNodes bounds the syntax tree of one expression: plans are
// written by a model, and a pathological expression must fail to compile
// rather than cost the engine.
const maxExpressionNodes = 500

// Expression is a compiled expression, safe for concurrent use.
type Expression struct {
	source  string
	program *vm.Program
}

// Compile compiles an expression of the plan language (expr-lang/expr)
// against the Env shape: only inputs, steps and item are known names, and a
// step result has only output and status. A source wrapped whole in a
// template ("${ … }") is accepted as the bare expression. Errors wrap
// ErrExpression.
func Compile(source string) (*Expression, error) {
	return compile(source)
}

// compile compiles with extra options (an expected result type).
func compile(source string, opts ...expr.Option) (*Expression, error) {
	src := unwrapTemplate(source)
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%w: empty expression", ErrExpression)
	}
	if len(src) > MaxExpressionLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrExpression, MaxExpressionLength)
	}
	opts = append([]expr.Option{expr.Env(Env{}), expr.MaxNodes(maxExpressionNodes)}, opts...)
	program, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrExpression, oneLine(err.Error()))
	}
	return &Expression{source: src, program: program}, nil
}

// Source returns the expression's text.
func (e *Expression) Source() string { return e.source }

// Eval evaluates the expression in env. Errors wrap ErrExpression.
func (e *Expression) Eval(env Env) (any, error) {
	out, err := expr.Run(e.program, env)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrExpression, oneLine(err.Error()))
	}
	return out, nil
}

// EvalBool evaluates an expression that must produce a boolean.
func (e *Expression) EvalBool(env Env) (bool, error) {
	out, err := e.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %q produced %s, not a boolean", ErrExpression, e.source, jsonTypeOf(out))
	}
	return b, nil
}

// EvalList evaluates an expression that must produce a list (nil is the
// empty list).
func (e *Expression) EvalList(env Env) ([]any, error) {
	out, err := e.Eval(env)
	if err != nil {
		return nil, err
	}
	switch list := out.(type) {
	case nil:
		return nil, nil
	case []any:
		return list, nil
	}
	return nil, fmt.Errorf("%w: %q produced %s, not a list", ErrExpression, e.source, jsonTypeOf(out))
}

// unwrapTemplate returns the expression of a string that is one whole
// template, or the string itself.
func unwrapTemplate(s string) string {
	t, err := ParseTemplate(s)
	if err != nil || !t.Whole() {
		return s
	}
	return t.parts[0].expr
}

// oneLine keeps the first line of expr-lang's multi-line messages (the
// others draw a caret under the source).
func oneLine(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		return msg[:i]
	}
	return msg
}
