package tools_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/domain/plan"
)

// BenchmarkStripeTools builds the tool of every operation of the Stripe
// document (417), names included, from a fresh set each iteration (so no
// tool is served from the set's cache); the import itself is not timed.
// Target: ≤ 200 ms per iteration (ns/op), reported as ms.
func BenchmarkStripeTools(b *testing.B) {
	eps := endpoints("s1", "Stripe", catalogue(b, "stripe-3.0.json"))
	b.ReportAllocs()
	b.ResetTimer()
	built := 0
	for b.Loop() {
		set, err := tools.NewSet(eps, tools.Options{})
		require.NoError(b, err)
		refs := set.Refs()
		for start := 0; start < len(refs); start += tools.MaxToolsPerRequest {
			out, err := set.Tools(refs[start:min(start+tools.MaxToolsPerRequest, len(refs))])
			require.NoError(b, err)
			built += len(out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64(built/b.N), "tools")
}

// BenchmarkPlanningLibraries5000 measures this package's and plan's share
// of one planning request on a tenant with 5,004 operations (Stripe's 417
// under 12 connections): naming them all, building 100 tools with the
// control tools, decoding a reply of five tool calls and validating the
// plan. Selection (the catalogue search) and the model are not included.
func BenchmarkPlanningLibraries5000(b *testing.B) {
	ops := catalogue(b, "stripe-3.0.json")
	var eps []tools.Endpoint
	for c := range 12 {
		eps = append(eps, endpoints(fmt.Sprintf("conn-%02d", c), fmt.Sprintf("Stripe %d", c), ops)...)
	}
	names := newSet(b, eps)
	ref := func(id string) plan.OperationRef { return plan.OperationRef{ConnectionID: "conn-03", OperationID: id} }
	call := func(id string, args map[string]any) openai.ToolCall {
		name, ok := names.Name(ref(id))
		require.True(b, ok, id)
		raw, err := json.Marshal(args)
		require.NoError(b, err)
		return openai.ToolCall{ID: id, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: name, Arguments: string(raw)}}
	}
	reply := []openai.ToolCall{
		call("GetCustomers", map[string]any{"step_id": "customers", "email": "ann@example.com", "limit": 1}),
		call("GetCustomersCustomer", map[string]any{"step_id": "customer", "customer": "${ steps.customers.output.data[0].id }"}),
		call("GetInvoices", map[string]any{"step_id": "invoices", "customer": "${ steps.customer.output.id }", "status": "open"}),
		call("PostInvoicesInvoicePay", map[string]any{"step_id": "pay", "invoice": "${ steps.invoices.output.data[0].id }"}),
		call("PostCustomersCustomer", map[string]any{"step_id": "note", "customer": "${ steps.customer.output.id }",
			"body": map[string]any{"description": "paid ${ steps.invoices.output.data[0].number }"}}),
	}
	selected := make([]plan.OperationRef, 0, 100)
	for _, op := range ops[:100] {
		selected = append(selected, ref(op.OperationID))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set, err := tools.NewSet(eps, tools.Options{})
		require.NoError(b, err)
		_, err = set.Tools(selected, tools.ControlTools()...)
		require.NoError(b, err)
		decoded := set.Decode(reply)
		require.Empty(b, decoded.Problems)
		problems := plan.Validate(plan.Plan{Steps: decoded.Steps}, set)
		require.Empty(b, problems, problems.String())
	}
}
