package tools_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/domain/plan"
)

// itemOps is a small API whose parameter names collide.
func itemOps() []openapi.Operation {
	item := json.RawMessage(`{"type":"object","properties":{"id":{"type":"integer"},"name":{"type":"string"}}}`)
	return []openapi.Operation{
		{Method: "GET", Path: "/items", OperationID: "list_items", SideEffect: openapi.SideEffectRead,
			Responses: []openapi.Response{{Status: "200", ContentTypes: []string{"application/json"},
				Schema: json.RawMessage(`{"type":"object","properties":{"items":{"type":"array","items":` + string(item) + `}}}`)}}},
		{Method: "GET", Path: "/items/{id}", OperationID: "get_item", SideEffect: openapi.SideEffectRead,
			Parameters: []openapi.Parameter{
				{Name: "id", In: "path", Required: true, Schema: json.RawMessage(`{"type":"integer"}`)},
				{Name: "id", In: "query", Schema: json.RawMessage(`{"type":"string"}`)},
				{Name: "body", In: "query", Schema: json.RawMessage(`{"type":"string"}`)},
				{Name: "X-Request-Id", In: "header", Schema: json.RawMessage(`{"type":"string"}`)},
				{Name: "Authorization", In: "header", Required: true, Schema: json.RawMessage(`{"type":"string"}`)},
			},
			Responses: []openapi.Response{{Status: "200", ContentTypes: []string{"application/json"}, Schema: item}}},
		{Method: "PUT", Path: "/items/{id}", OperationID: "update_item", SideEffect: openapi.SideEffectWrite,
			Parameters: []openapi.Parameter{{Name: "id", In: "path", Required: true, Schema: json.RawMessage(`{"type":"integer"}`)}},
			RequestBody: &openapi.RequestBody{Required: true, ContentType: "application/json",
				Schema: json.RawMessage(`{"type":"object","required":["name"],"properties":{"name":{"type":"string"}}}`)},
			Responses: []openapi.Response{{Status: "200", ContentTypes: []string{"application/json"}, Schema: item}}},
	}
}

// toolCall builds a tool call as the model sends it.
func toolCall(name string, args any) openai.ToolCall {
	raw, ok := args.(string)
	if !ok {
		b, err := json.Marshal(args)
		if err != nil {
			panic(err)
		}
		raw = string(b)
	}
	return openai.ToolCall{ID: "call_" + name, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: name, Arguments: raw}}
}

func TestArgumentNamesAvoidCollisions(t *testing.T) {
	t.Parallel()
	set := newSet(t, endpoints("c", "Items", itemOps()))
	tool, err := set.Tool(plan.OperationRef{ConnectionID: "c", OperationID: "get_item"})
	require.NoError(t, err)
	params := parameters(t, tool)
	assert.ElementsMatch(t, []string{"step_id", "path_id", "query_id", "query_body", "X-Request-Id"}, keys(properties(params)))
	assert.Equal(t, []string{"step_id", "path_id"}, requiredOf(params))
}

func TestDecodeToolCallsToSteps(t *testing.T) {
	t.Parallel()
	set := newSet(t, endpoints("c", "Items", itemOps()))
	d := set.Decode([]openai.ToolCall{
		toolCall("items__list_items", map[string]any{"step_id": "all"}),
		toolCall(tools.ToolCondition, map[string]any{"step_id": "any", "expr": "len(steps.all.output.items) > 0", "then": []string{"each"}}),
		toolCall(tools.ToolForeach, map[string]any{"step_id": "each", "items": "steps.all.output.items", "max_iterations": 5,
			"steps": []any{
				map[string]any{"tool": "items__get_item", "arguments": map[string]any{"step_id": "one", "path_id": "${ item.id }",
					"query_body": "full", "X-Request-Id": "r-1"}},
				map[string]any{"tool": "items__update_item", "arguments": `{"id": "${ steps.one.output.id }", "body": {"name": "${ item.name }!"}}`},
			}}),
		toolCall(tools.ToolTransform, map[string]any{"step_id": "names", "expr": "map(steps.each.output, .one.name)"}),
		toolCall("items__update_item", map[string]any{"id": 7, "body": map[string]any{"name": "seven"}}),
	})
	require.Empty(t, d.Problems, d.Problems.String())
	assert.False(t, d.NoSuitableEndpointCalled)
	want := []plan.Step{
		{ID: "all", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "list_items", SideEffect: openapi.SideEffectRead}},
		{ID: "any", Kind: plan.KindCondition, Condition: &plan.Condition{Expr: "len(steps.all.output.items) > 0", Then: []string{"each"}}},
		{ID: "each", Kind: plan.KindForeach, Foreach: &plan.Foreach{Items: "steps.all.output.items", MaxIterations: 5, Steps: []plan.Step{
			{ID: "one", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "get_item", SideEffect: openapi.SideEffectRead,
				Path: map[string]any{"id": "${ item.id }"}, Query: map[string]any{"body": "full"}, Header: map[string]any{"X-Request-Id": "r-1"}}},
			{ID: "step1", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "update_item", SideEffect: openapi.SideEffectWrite,
				Path: map[string]any{"id": "${ steps.one.output.id }"}, Body: map[string]any{"name": "${ item.name }!"}}},
		}}},
		{ID: "names", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "map(steps.each.output, .one.name)"}},
		{ID: "step2", Kind: plan.KindCall, Call: &plan.Call{ConnectionID: "c", OperationID: "update_item", SideEffect: openapi.SideEffectWrite,
			Path: map[string]any{"id": 7.0}, Body: map[string]any{"name": "seven"}}},
	}
	assert.Equal(t, want, d.Steps)
	assert.Empty(t, plan.Validate(plan.Plan{Steps: d.Steps}, set).String(), "the decoded plan is valid against the set's catalogue")
}

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	set := newSet(t, endpoints("c", "Items", itemOps()))
	tests := []struct {
		name  string
		calls []openai.ToolCall
		codes []string
		steps int
	}{
		{"invented tool", []openai.ToolCall{toolCall("items__delete_everything", map[string]any{"step_id": "x"})},
			[]string{tools.CodeUnknownTool}, 0},
		{"arguments that are not JSON", []openai.ToolCall{toolCall("items__list_items", `{"step_id": "x"`)},
			[]string{tools.CodeInvalidArguments}, 0},
		{"arguments that are a list", []openai.ToolCall{toolCall("items__list_items", `[1]`)},
			[]string{tools.CodeInvalidArguments}, 0},
		{"unknown argument and a body the operation does not take", []openai.ToolCall{
			toolCall("items__get_item", map[string]any{"step_id": "x", "path_id": 1, "page": 2, "body": "b"})},
			[]string{plan.CodeUnknownParameter, plan.CodeUnknownParameter}, 1},
		{"foreach with an invented body tool and a fractional bound", []openai.ToolCall{
			toolCall(tools.ToolForeach, map[string]any{"step_id": "each", "items": "[1]", "max_iterations": 2.5,
				"steps": []any{map[string]any{"tool": "plan_transform", "arguments": map[string]any{}},
					map[string]any{"tool": "items__list_items", "arguments": 12}}})},
			[]string{tools.CodeInvalidArguments, tools.CodeUnknownTool, tools.CodeInvalidArguments}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := set.Decode(tt.calls)
			assert.Equal(t, tt.codes, d.Problems.Codes(), d.Problems.String())
			assert.Len(t, d.Steps, tt.steps)
		})
	}
}

func TestDecodeAnswers(t *testing.T) {
	t.Parallel()
	set := newSet(t, endpoints("c", "Items", itemOps()))
	d := set.Decode([]openai.ToolCall{toolCall(tools.ToolNoSuitableEndpoint, map[string]any{"reason": "No API sends e-mail."})})
	assert.True(t, d.NoSuitableEndpointCalled)
	assert.Equal(t, "No API sends e-mail.", d.NoSuitableEndpoint)
	assert.Empty(t, d.Steps)

	d = set.Decode([]openai.ToolCall{toolCall(tools.ToolSelectOperations,
		map[string]any{"names": []string{"items__get_item", "items__nope", "items__get_item", "items__list_items"}})})
	assert.Equal(t, []plan.OperationRef{{ConnectionID: "c", OperationID: "get_item"}, {ConnectionID: "c", OperationID: "list_items"}}, d.Selected)
	assert.Equal(t, []string{tools.CodeUnknownTool}, d.Problems.Codes())

	var many []tools.Endpoint
	var names []string
	for i := range tools.MaxSelected + 5 {
		many = append(many, tools.Endpoint{ConnectionID: "m", ConnectionName: "m", Operation: op(fmt.Sprintf("op%d", i))})
		names = append(names, fmt.Sprintf("m__op%d", i))
	}
	d = newSet(t, many).Decode([]openai.ToolCall{toolCall(tools.ToolSelectOperations, map[string]any{"names": names})})
	assert.Len(t, d.Selected, tools.MaxSelected)
	assert.Equal(t, []string{tools.CodeInvalidArguments}, d.Problems.Codes())
}
