package tools

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/domain/plan"
)

// Problem codes of Decode (the others are plan's).
const (
	// CodeUnknownTool: the model called a tool that was not offered.
	CodeUnknownTool = "unknown_tool"
	// CodeInvalidArguments: a tool call's arguments are not the JSON object its schema asks for.
	CodeInvalidArguments = "invalid_arguments"
)

// Decoded is what a model's reply said through its tool calls.
type Decoded struct {
	// Steps are the plan's steps, one per step tool call, in call order.
	Steps []plan.Step
	// NoSuitableEndpoint holds the model's reason when it called
	// no_suitable_endpoint.
	NoSuitableEndpoint string
	// NoSuitableEndpointCalled is set when it did (the reason may be empty).
	NoSuitableEndpointCalled bool
	// Selected lists the operations a select_operations call chose.
	Selected []plan.OperationRef
	// Problems lists calls that could not be decoded, in the shape of
	// plan validation problems, ready for a repair round.
	Problems plan.Problems
}

// Decode turns tool calls into plan steps: an operation tool call becomes a
// call step (its arguments sorted back into path, query, header and body,
// its side effect taken from the catalogue), the control tools become
// condition, foreach and transform steps. Steps without a step_id are
// named "step1", "step2"... (skipping ids in use). Decoding does not validate: pass the
// steps to plan.Validate.
func (s *Set) Decode(calls []openai.ToolCall) Decoded {
	var d Decoded
	for i, c := range calls {
		field := fmt.Sprintf("tool_calls[%d]", i)
		args, err := decodeArguments(c.Function.Arguments)
		if err != nil {
			d.Problems = append(d.Problems, plan.Problem{Field: field, Code: CodeInvalidArguments,
				Message: fmt.Sprintf("the arguments of %s are not a JSON object: %v", c.Function.Name, err)})
			continue
		}
		switch c.Function.Name {
		case ToolNoSuitableEndpoint:
			d.NoSuitableEndpointCalled = true
			d.NoSuitableEndpoint = asString(args["reason"])
		case ToolSelectOperations:
			d.Selected, d.Problems = s.selected(args, field, d.Selected, d.Problems)
		default:
			step, problems := s.step(c.Function.Name, args, field)
			d.Problems = append(d.Problems, problems...)
			if step != nil {
				d.Steps = append(d.Steps, *step)
			}
		}
	}
	nameSteps(d.Steps)
	return d
}

// decodeArguments parses a tool call's arguments; empty means none.
func decodeArguments(raw string) (map[string]any, error) {
	if raw == "" {
		return map[string]any{}, nil
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		return nil, err
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

// step decodes one step tool call; nil when it names no known tool.
func (s *Set) step(name string, args map[string]any, field string) (*plan.Step, []plan.Problem) {
	id := asString(args[ArgStepID])
	switch name {
	case ToolCondition:
		return &plan.Step{ID: id, Kind: plan.KindCondition, Condition: &plan.Condition{
			Expr: asString(args["expr"]), Then: stringList(args["then"]), Else: stringList(args["else"])}}, nil
	case ToolTransform:
		return &plan.Step{ID: id, Kind: plan.KindTransform, Transform: &plan.Transform{Expr: asString(args["expr"])}}, nil
	case ToolForeach:
		return s.foreach(id, args, field)
	}
	ref, ok := s.Lookup(name)
	if !ok {
		return nil, []plan.Problem{{Step: id, Field: field, Code: CodeUnknownTool, Message: fmt.Sprintf(
			"there is no tool %q; call only the tools offered", name)}}
	}
	return s.callStep(ref, name, id, args, field)
}

// callStep sorts an operation tool's arguments back into a call.
func (s *Set) callStep(ref plan.OperationRef, name, id string, args map[string]any, field string) (*plan.Step, []plan.Problem) {
	e, _ := s.Endpoint(ref)
	call := &plan.Call{ConnectionID: ref.ConnectionID, OperationID: ref.OperationID, SideEffect: e.Operation.SideEffect}
	byName := map[string]argument{}
	var names []string
	for _, a := range arguments(e.Operation) {
		byName[a.name] = a
		names = append(names, a.name)
	}
	var problems []plan.Problem
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := args[k]
		switch k {
		case ArgStepID:
			continue
		case ArgBody:
			if e.Operation.RequestBody != nil {
				call.Body = v
				continue
			}
		}
		a, ok := byName[k]
		if !ok {
			problems = append(problems, plan.Problem{Step: id, Field: field + ".arguments." + k, Code: plan.CodeUnknownParameter,
				Message: fmt.Sprintf("tool %s has no argument %q (arguments: %s)", name, k, joinNames(names, e.Operation.RequestBody != nil))})
			continue
		}
		target := &call.Query
		switch a.param.In {
		case "path":
			target = &call.Path
		case "header":
			target = &call.Header
		}
		if *target == nil {
			*target = map[string]any{}
		}
		(*target)[a.param.Name] = v
	}
	return &plan.Step{ID: id, Kind: plan.KindCall, Call: call}, problems
}

// foreach decodes a plan_foreach call with its body of operation calls.
func (s *Set) foreach(id string, args map[string]any, field string) (*plan.Step, []plan.Problem) {
	f := &plan.Foreach{Items: asString(args["items"])}
	var problems []plan.Problem
	switch n := args["max_iterations"].(type) {
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt32 && n <= math.MaxInt32 {
			f.MaxIterations = int(n)
		} else {
			problems = append(problems, plan.Problem{Step: id, Field: field + ".arguments.max_iterations",
				Code: CodeInvalidArguments, Message: "max_iterations must be a whole number"})
		}
	case nil:
	default:
		problems = append(problems, plan.Problem{Step: id, Field: field + ".arguments.max_iterations",
			Code: CodeInvalidArguments, Message: "max_iterations must be a number"})
	}
	body, _ := args["steps"].([]any)
	for j, raw := range body {
		bodyField := field + ".arguments.steps[" + strconv.Itoa(j) + "]"
		entry, _ := raw.(map[string]any)
		toolName := asString(entry["tool"])
		bodyArgs, err := bodyArguments(entry["arguments"])
		if err != nil {
			problems = append(problems, plan.Problem{Step: id, Field: bodyField + ".arguments", Code: CodeInvalidArguments,
				Message: fmt.Sprintf("the arguments of %s are not a JSON object: %v", toolName, err)})
			continue
		}
		ref, ok := s.Lookup(toolName)
		if !ok {
			problems = append(problems, plan.Problem{Step: id, Field: bodyField + ".tool", Code: CodeUnknownTool,
				Message: fmt.Sprintf("there is no operation tool %q; a foreach body calls operation tools only", toolName)})
			continue
		}
		step, ps := s.callStep(ref, toolName, asString(bodyArgs[ArgStepID]), bodyArgs, bodyField)
		problems = append(problems, ps...)
		f.Steps = append(f.Steps, *step)
	}
	return &plan.Step{ID: id, Kind: plan.KindForeach, Foreach: f}, problems
}

// bodyArguments accepts a foreach body entry's arguments as an object or
// as a JSON string holding one (models do both).
func bodyArguments(v any) (map[string]any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case string:
		return decodeArguments(x)
	case nil:
		return map[string]any{}, nil
	}
	return nil, fmt.Errorf("got %T", v)
}

// selected decodes a select_operations call.
func (s *Set) selected(args map[string]any, field string, refs []plan.OperationRef, problems plan.Problems) ([]plan.OperationRef, plan.Problems) {
	for _, name := range stringList(args["names"]) {
		ref, ok := s.Lookup(name)
		if !ok {
			problems = append(problems, plan.Problem{Field: field + ".arguments.names", Code: CodeUnknownTool,
				Message: fmt.Sprintf("there is no operation %q in the list", name)})
			continue
		}
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	if len(refs) > MaxSelected {
		problems = append(problems, plan.Problem{Field: field + ".arguments.names", Code: CodeInvalidArguments,
			Message: fmt.Sprintf("at most %d operations may be selected", MaxSelected)})
		refs = refs[:MaxSelected]
	}
	return refs, problems
}

// nameSteps gives steps without an id "step<N>", skipping ids in use.
func nameSteps(steps []plan.Step) {
	used := map[string]bool{}
	for _, s := range steps {
		used[s.ID] = true
		if s.Foreach != nil {
			for _, b := range s.Foreach.Steps {
				used[b.ID] = true
			}
		}
	}
	n := 0
	next := func() string {
		for {
			n++
			if id := "step" + strconv.Itoa(n); !used[id] {
				used[id] = true
				return id
			}
		}
	}
	for i := range steps {
		if steps[i].ID == "" {
			steps[i].ID = next()
		}
		if f := steps[i].Foreach; f != nil {
			for j := range f.Steps {
				if f.Steps[j].ID == "" {
					f.Steps[j].ID = next()
				}
			}
		}
	}
}

// stringList reads a list of strings, skipping other values.
func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// joinNames lists a tool's argument names.
func joinNames(names []string, body bool) string {
	all := append([]string{ArgStepID}, names...)
	if body {
		all = append(all, ArgBody)
	}
	return strings.Join(all, ", ")
}
