package tools

import (
	"encoding/json"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/domain/plan"
)

// Names of the control tools: steps that call no operation, and the
// planner's other answers. Operation tool names always hold "__"; these
// never do.
const (
	ToolCondition          = "plan_condition"
	ToolForeach            = "plan_foreach"
	ToolTransform          = "plan_transform"
	ToolNoSuitableEndpoint = "no_suitable_endpoint"
	ToolSelectOperations   = "select_operations"
)

// Guide is the part of a planner's system prompt that explains the tools.
const Guide = "Plan with tool calls: one call per step, in the order the steps run. Every call has a step_id. " +
	"Any argument value may use an earlier step's result or the loop item with ${ expression } " +
	"(expr-lang syntax), e.g. \"${ steps.find_movie.output.results[0].id }\"; a value that is exactly one " +
	"${ } keeps its type. Use plan_condition to run later steps only when something holds, plan_foreach " +
	"to call operations once per element of a list (item is the element), plan_transform to compute a " +
	"value. Never pass credentials: APIQ adds them. If no offered operation can serve the request, call " +
	"no_suitable_endpoint instead of forcing a wrong call. " + UntrustedNotice

// SelectionGuide is the part of a selection round's system prompt that
// explains the compact list (FormatCompact) and its tools.
const SelectionGuide = "Choose the operations needed for the request from the list (one per line: name, " +
	"method and path, side effect, quoted summary) by calling select_operations with their names, " +
	"at most 100. If none fits, call no_suitable_endpoint. " + UntrustedNotice

// MaxSelected bounds the names select_operations accepts, leaving room
// under MaxToolsPerRequest for the control tools and producers the planner
// adds.
const MaxSelected = 100

func stepIDProperty() map[string]any {
	return map[string]any{"type": "string", "description": stepIDDescription}
}

func function(name, description string, params map[string]any) openai.Tool {
	raw, _ := json.Marshal(params) // maps of strings, numbers and lists always encode
	return openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
		Name: name, Description: description, Parameters: json.RawMessage(raw)}}
}

// ControlTools returns the step tools that call no operation
// (plan_condition, plan_foreach, plan_transform) and no_suitable_endpoint.
func ControlTools() []openai.Tool {
	expression := func(what string) map[string]any {
		return map[string]any{"type": "string", "description": what + " (expr-lang, over inputs, steps and item)"}
	}
	ids := func(what string) map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": what}
	}
	return []openai.Tool{
		function(ToolCondition, "Run later steps only when a condition holds.", map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{ArgStepID, "expr"},
			"properties": map[string]any{
				ArgStepID: stepIDProperty(),
				"expr":    expression("A boolean expression, e.g. len(steps.find.output.results) > 0"),
				"then":    ids("step_ids of later steps that run only when expr is true"),
				"else":    ids("step_ids of later steps that run only when expr is false"),
			}}),
		function(ToolForeach, "Call operations once per element of a list.", map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{ArgStepID, "items", "max_iterations", "steps"},
			"properties": map[string]any{
				ArgStepID: stepIDProperty(),
				"items":   expression("An expression giving the list, e.g. steps.find.output.results"),
				"max_iterations": map[string]any{"type": "integer", "minimum": 1, "maximum": plan.MaxForeachIterations,
					"description": "The most elements to process"},
				"steps": map[string]any{"type": "array", "minItems": 1, "maxItems": plan.MaxForeachBodySteps,
					"description": "The calls made for each element, in order; item is the element",
					"items": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"tool", "arguments"},
						"properties": map[string]any{
							"tool":      map[string]any{"type": "string", "description": "The name of an operation tool"},
							"arguments": map[string]any{"type": "object", "description": "That tool's arguments, step_id included"},
						}}},
			}}),
		function(ToolTransform, "Compute a value from inputs and earlier results.", map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{ArgStepID, "expr"},
			"properties": map[string]any{
				ArgStepID: stepIDProperty(),
				"expr":    expression("The value, e.g. map(steps.find.output.results, .title)"),
			}}),
		noSuitableEndpointTool(),
	}
}

func noSuitableEndpointTool() openai.Tool {
	return function(ToolNoSuitableEndpoint, "Say that no offered operation can serve the request.", map[string]any{
		"type": "object", "additionalProperties": false, "required": []string{"reason"},
		"properties": map[string]any{
			"reason": map[string]any{"type": "string", "description": "What is missing, in one sentence"},
		}})
}

// SelectionTools returns the tools of a selection round: select_operations
// and no_suitable_endpoint.
func SelectionTools() []openai.Tool {
	return []openai.Tool{
		function(ToolSelectOperations, "Choose the operations the plan needs from the list.", map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{"names"},
			"properties": map[string]any{
				"names": map[string]any{"type": "array", "maxItems": MaxSelected, "items": map[string]any{"type": "string"},
					"description": "Operation names exactly as listed"},
			}}),
		noSuitableEndpointTool(),
	}
}
