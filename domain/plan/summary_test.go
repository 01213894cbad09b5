package plan_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/domain/plan"
)

func TestSummarize(t *testing.T) {
	t.Parallel()
	cat := testCatalogue(t)
	p := decodePlan(t, steps(find,
		`{"id": "found", "kind": "condition", "condition": {"expr": "len(steps.find.output.results) > 0", "then": ["each"]}}`,
		`{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 3, "steps": [`+
			call("unrate", "movies", "delete_rating", `"path": {"movie_id": "${ item.id }"}`)+`]}}`,
		// The plan claims "read"; the summary shows the catalogue's class.
		`{"id": "contact", "kind": "call", "call": {"connection_id": "crm", "operation_id": "create_contact", "side_effect": "read",
			"body": {"email": "a@b.co"}}}`))
	s := plan.Summarize(p, cat)
	assert.Equal(t, 5, s.Steps)
	assert.Equal(t, []string{"crm", "movies"}, s.Connections)
	assert.Equal(t, 2, s.MutatingCalls)
	assert.Equal(t, 1, s.DestructiveCalls)
	assert.True(t, s.HasDestructive())
	assert.Equal(t, 1+3+1, s.MaxCalls)
	require.Len(t, s.Calls, 3)
	assert.Equal(t, plan.CallSummary{Step: "find", ConnectionID: "movies", OperationID: "search_movie", Method: "GET",
		Path: "/search/movie", Summary: "Search movies", SideEffect: openapi.SideEffectRead, Repeats: 1}, s.Calls[0])
	assert.Equal(t, plan.CallSummary{Step: "unrate", ConnectionID: "movies", OperationID: "delete_rating", Method: "DELETE",
		Path: "/movie/{movie_id}/rating", Summary: "Delete a rating", SideEffect: openapi.SideEffectDestructive, Mutating: true,
		Foreach: "each", Repeats: 3, Conditional: true}, s.Calls[1])
	assert.Equal(t, openapi.SideEffectWrite, s.Calls[2].SideEffect)
	assert.True(t, s.Calls[2].Mutating)
}

func TestSummarizeUnknownOperationCountsAsMutating(t *testing.T) {
	t.Parallel()
	s := plan.Summarize(decodePlan(t, steps(call("x", "movies", "invented", ""))), testCatalogue(t))
	require.Len(t, s.Calls, 1)
	assert.True(t, s.Calls[0].Mutating)
	assert.Equal(t, 1, s.MutatingCalls)
}

func TestAnnotate(t *testing.T) {
	t.Parallel()
	cat := testCatalogue(t)
	p := decodePlan(t, steps(find, call("x", "movies", "invented", ""),
		`{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 3, "steps": [`+
			call("unrate", "movies", "delete_rating", `"path": {"movie_id": "${ item.id }"}`)+`]}}`))
	plan.Annotate(&p, cat)
	assert.Equal(t, openapi.SideEffectRead, p.Steps[0].Call.SideEffect)
	assert.Empty(t, p.Steps[1].Call.SideEffect)
	assert.Equal(t, openapi.SideEffectDestructive, p.Steps[2].Foreach.Steps[0].Call.SideEffect)
	assert.Equal(t, []string{plan.CodeUnknownOperation}, plan.Validate(p, cat).Codes(), "annotated side effects match")
}

// TestValidateAgainstAnImportedDocument runs the checks on a catalogue that
// adapters/openapi built from the Swagger Petstore document.
func TestValidateAgainstAnImportedDocument(t *testing.T) {
	t.Parallel()
	res, err := openapi.Import(context.Background(), testservers.ReadSpec(t, "petstore-3.0.yaml"), openapi.Options{})
	require.NoError(t, err)
	cat := plan.Operations{}
	cat.Add("pets", res.Operations...)
	tests := []struct {
		name  string
		plan  string
		codes []string
	}{
		{"find then update", steps(
			call("sold", "pets", "findPetsByStatus", `"query": {"status": "sold"}`),
			call("first", "pets", "getPetById", `"path": {"petId": "${ steps.sold.output[0].id }"}`),
			call("rename", "pets", "updatePet", `"body": {"id": "${ steps.first.output.id }", "name": "Rex",
				"photoUrls": "${ steps.first.output.photoUrls }", "category": {"id": 1, "name": "Dogs"}, "status": "available"}`),
		), nil},
		{"wrong enum, missing field and a field the response lacks", steps(
			call("sold", "pets", "findPetsByStatus", `"query": {"status": "gone"}`),
			call("add", "pets", "addPet", `"body": {"name": "Rex", "owner": "${ steps.sold.output[0].owner }"}`),
		), []string{plan.CodeNotInEnum, plan.CodeMissingField, plan.CodeMissingResponseField}},
		{"credential header of the document", steps(call("del", "pets", "deletePet", `"path": {"petId": 1}, "header": {"api_key": "secret"}`)),
			[]string{plan.CodeCredentialParameter}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := plan.Validate(decodePlan(t, tt.plan), cat)
			assert.Equal(t, tt.codes, nilIfEmpty(problems.Codes()), problems.String())
		})
	}
}
