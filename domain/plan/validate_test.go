package plan_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/plan"
)

// Steps reused by the cases below.
const (
	find    = `{"id": "find", "kind": "call", "call": {"connection_id": "movies", "operation_id": "search_movie", "query": {"query": "Alien"}}}`
	details = `{"id": "details", "kind": "call", "call": {"connection_id": "movies", "operation_id": "movie_details",
		"path": {"movie_id": "${ steps.find.output.results[0].id }"}}}`
)

// steps wraps steps into a plan document.
func steps(list ...string) string {
	return `{"steps": [` + strings.Join(list, ",") + `]}`
}

// call writes a call step.
func call(id, conn, op, params string) string {
	if params != "" {
		params = ", " + params
	}
	return fmt.Sprintf(`{"id": %q, "kind": "call", "call": {"connection_id": %q, "operation_id": %q%s}}`, id, conn, op, params)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cat := testCatalogue(t)
	tests := []struct {
		name  string
		plan  string
		codes []string
		// want, when set, is the first problem's step, field and a part of its message.
		want *plan.Problem
	}{
		{"one call", steps(find), nil, nil},
		{"call using an earlier output", steps(find, details), nil, nil},
		{"every kind and reference form", `{"inputs": [{"name": "title", "type": "string", "required": true},
			{"name": "stars", "type": "number", "default": 4}],
		  "steps": [` + call("find", "movies", "search_movie", `"query": {"query": "${ inputs.title }", "page": 1, "include_adult": false}`) + `,
			{"id": "found", "kind": "condition", "condition": {"expr": "len(steps.find.output.results) > 0 && steps.find.status == 200", "then": ["each", "rate"], "else": ["nothing"]}},
			{"id": "each", "kind": "foreach", "foreach": {"items": "${ steps.find.output.results }", "max_iterations": 3, "steps": [
				` + call("info", "movies", "movie_details", `"path": {"movie_id": "${ item.id }"}, "query": {"language": "en-US"}, "header": {"X-Trace": "7d444840-9dc0-11d1-b245-5ffdce74fad2"}`) + `,
				` + call("rate_each", "movies", "rate_movie", `"path": {"movie_id": "${ steps.info.output.id }"}, "body": {"value": "${ inputs.stars }", "comment": "seen ${ item.title } (${ item.release_date })"}`) + `]}},
			` + call("rate", "movies", "rate_movie", `"path": {"movie_id": "${ steps.each.output[0].info.id }"}, "body": {"value": 7.5}`) + `,
			` + call("nothing", "movies", "raw", "") + `,
			{"id": "summary", "kind": "transform", "transform": {"expr": "{titles: map(steps.find.output.results, .title), extra: steps.nothing.output?.anything ?? 1}"}},
			` + call("contact", "crm", "create_contact", `"body": {"email": "ann@example.com", "kind": "person", "tags": ["a"], "created": "2024-05-01T10:00:00Z", "address": {"city": "Oslo"}}`) + `]}`,
			nil, nil},
		{"anyOf response members", steps(find, details, call("after", "movies", "delete_rating",
			`"path": {"movie_id": "${ steps.details.output.genres[0].id + len(steps.details.output.status_message) }"}`)), nil, nil},
		{"free-form output accepts any field", steps(call("r", "movies", "raw", ""), call("d", "movies", "delete_rating",
			`"path": {"movie_id": "${ steps.r.output.deep.down[3].id }"}`)), nil, nil},
		{"escaped template is a literal", steps(call("find", "movies", "search_movie", `"query": {"query": "$${ not an expression"}`)), nil, nil},

		{"empty plan", `{"steps": []}`, []string{plan.CodeEmptyPlan}, nil},
		{"hallucinated operation", steps(call("find", "movies", "search_movies", `"query": {"query": "x"}`)),
			[]string{plan.CodeUnknownOperation}, &plan.Problem{Step: "find", Field: "call.operation_id", Message: `"search_movies" does not exist in connection "movies"`}},
		{"hallucinated connection", steps(call("find", "films", "search_movie", `"query": {"query": "x"}`)),
			[]string{plan.CodeUnknownOperation}, nil},
		{"operation missing", steps(call("find", "movies", "", "")), []string{plan.CodeMissingOperation}, nil},
		{"wrong query type", steps(call("find", "movies", "search_movie", `"query": {"query": "x", "page": "two"}`)),
			[]string{plan.CodeTypeMismatch}, &plan.Problem{Step: "find", Field: "call.query.page", Message: `expected integer, got string "two"`}},
		{"fraction for an integer", steps(call("d", "movies", "delete_rating", `"path": {"movie_id": 1.5}`)),
			[]string{plan.CodeTypeMismatch}, nil},
		{"boolean as a string", steps(call("find", "movies", "search_movie", `"query": {"query": "x", "include_adult": "false"}`)),
			[]string{plan.CodeTypeMismatch}, nil},
		{"text around an expression for an integer", steps(find, call("d", "movies", "delete_rating",
			`"path": {"movie_id": "id-${ steps.find.output.results[0].id }"}`)), []string{plan.CodeTypeMismatch}, nil},
		{"not in enum", steps(call("d", "movies", "movie_details", `"path": {"movie_id": 1}, "query": {"language": "fr-FR"}`)),
			[]string{plan.CodeNotInEnum}, &plan.Problem{Field: "call.query.language", Message: `"fr-FR" is not one of ["en-US", "de-DE"]`}},
		{"bad formats", steps(call("c", "crm", "create_contact", `"body": {"email": "not-an-email", "created": "yesterday"}`),
			call("d", "movies", "movie_details", `"path": {"movie_id": 1}, "header": {"x-trace": "123"}`)),
			[]string{plan.CodeInvalidFormat, plan.CodeInvalidFormat, plan.CodeInvalidFormat}, nil},
		{"int32 range", steps(call("find", "movies", "search_movie", `"query": {"query": "x", "page": 3000000000}`)),
			[]string{plan.CodeInvalidFormat}, nil},
		{"anyOf without a match", steps(call("c", "crm", "create_contact", `"body": {"email": "a@b.co", "address": 12}`)),
			[]string{plan.CodeNoMatchingAlternative}, nil},
		{"missing required query parameter", steps(call("find", "movies", "search_movie", `"query": {"page": 1}`)),
			[]string{plan.CodeMissingParameter}, &plan.Problem{Field: "call.query.query", Message: `required query parameter "query" is missing`}},
		{"missing path parameter", steps(call("d", "movies", "movie_details", "")), []string{plan.CodeMissingParameter}, nil},
		{"undeclared parameter", steps(call("find", "movies", "search_movie", `"query": {"query": "x", "year": 1979}`)),
			[]string{plan.CodeUnknownParameter}, &plan.Problem{Message: "query parameters: query, page, include_adult)"}},
		{"parameter in the wrong place", steps(call("d", "movies", "movie_details", `"query": {"movie_id": 1}`)),
			[]string{plan.CodeUnknownParameter, plan.CodeMissingParameter}, &plan.Problem{Message: `"movie_id" is a path parameter, not a query one`}},
		{"credentials as parameters", steps(call("find", "movies", "search_movie",
			`"query": {"query": "x", "api_key": "k"}, "header": {"Authorization": "Bearer t", "api_key": "k"}`)),
			[]string{plan.CodeCredentialParameter, plan.CodeCredentialParameter, plan.CodeCredentialParameter}, nil},
		{"missing body", steps(call("r", "movies", "rate_movie", `"path": {"movie_id": 1}`)), []string{plan.CodeMissingBody}, nil},
		{"body on an operation without one", steps(call("find", "movies", "search_movie", `"query": {"query": "x"}, "body": {"a": 1}`)),
			[]string{plan.CodeUnexpectedBody}, nil},
		{"body missing a required field, with an undeclared one", steps(call("r", "movies", "rate_movie", `"path": {"movie_id": 1}, "body": {"stars": 5}`)),
			[]string{plan.CodeMissingField, plan.CodeUnknownField}, &plan.Problem{Field: "call.body.value"}},
		{"nested body type", steps(call("c", "crm", "create_contact", `"body": {"email": "a@b.co", "tags": ["x", 2]}`)),
			[]string{plan.CodeTypeMismatch}, &plan.Problem{Field: "call.body.tags[1]"}},
		{"side effect that is not the catalogue's", steps(`{"id": "d", "kind": "call", "call": {"connection_id": "movies",
			"operation_id": "delete_rating", "side_effect": "read", "path": {"movie_id": 1}}}`), []string{plan.CodeSideEffectMismatch}, nil},

		{"reference to a missing field", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.find.output.result[0].id }"}`)),
			[]string{plan.CodeMissingResponseField}, &plan.Problem{Step: "d", Field: "call.path.movie_id",
				Message: `steps.find.output does not have result: there is no field "result" (fields: page, results, total_results)`}},
		{"reference to a missing nested field", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.find.output.results[0].movie_id }"}`)),
			[]string{plan.CodeMissingResponseField}, nil},
		{"index into an object", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.find.output[0].id }"}`)),
			[]string{plan.CodeMissingResponseField}, &plan.Problem{Message: "it is an object, not a list"}},
		{"field of a scalar", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.find.output.page.id }"}`)),
			[]string{plan.CodeMissingResponseField}, &plan.Problem{Message: "it is integer"}},
		{"field of an empty response", steps(call("x", "movies", "delete_rating", `"path": {"movie_id": 1}`),
			call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.x.output.id }"}`)),
			[]string{plan.CodeMissingResponseField}, &plan.Problem{Message: "has no body"}},
		{"field missing from every anyOf member", steps(find, details, call("d", "movies", "delete_rating",
			`"path": {"movie_id": "${ steps.details.output.budget }"}`)), []string{plan.CodeMissingResponseField}, nil},
		{"reference to a later step", steps(details, find), []string{plan.CodeForwardReference},
			&plan.Problem{Step: "details", Message: `step "find" does not run before step "details"`}},
		{"reference to itself", steps(call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.d.output.id }"}`)),
			[]string{plan.CodeForwardReference}, nil},
		{"reference to no step", steps(details), []string{plan.CodeUnknownStep}, nil},
		{"computed step id", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps[\"fi\" + \"nd\"].output.id }"}`)),
			[]string{plan.CodeInvalidReference}, nil},
		{"result field other than output and status", steps(find, call("d", "movies", "movie_details", `"path": {"movie_id": "${ steps.find.body.id }"}`)),
			[]string{plan.CodeInvalidExpression}, nil},
		{"undeclared input", steps(call("find", "movies", "search_movie", `"query": {"query": "${ inputs.title }"}`)),
			[]string{plan.CodeUnknownInput}, nil},
		{"field of a scalar input", `{"inputs": [{"name": "title", "type": "string"}], "steps": [` +
			call("find", "movies", "search_movie", `"query": {"query": "${ inputs.title.text }"}`) + `]}`,
			[]string{plan.CodeMissingResponseField}, nil},
		{"item outside a foreach", steps(call("find", "movies", "search_movie", `"query": {"query": "${ item }"}`)),
			[]string{plan.CodeItemOutsideForeach}, nil},
		{"unknown name", steps(call("find", "movies", "search_movie", `"query": {"query": "${ movie.title }"}`)),
			[]string{plan.CodeInvalidExpression}, &plan.Problem{Message: "unknown name movie"}},
		{"$env", steps(call("find", "movies", "search_movie", `"query": {"query": "${ $env.inputs }"}`)),
			[]string{plan.CodeInvalidReference}, nil},
		{"syntax error", steps(call("find", "movies", "search_movie", `"query": {"query": "${ 1 + }"}`)),
			[]string{plan.CodeInvalidExpression}, nil},
		{"unclosed template", steps(call("find", "movies", "search_movie", `"query": {"query": "${ inputs.title"}`)),
			[]string{plan.CodeInvalidExpression}, nil},

		{"foreach over an object", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output", "max_iterations": 2,
			"steps": [`+call("x", "movies", "movie_details", `"path": {"movie_id": "${ item.id }"}`)+`]}}`),
			[]string{plan.CodeNotAList}, nil},
		{"foreach bounds and body", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 1000,
			"steps": [{"id": "t", "kind": "transform", "transform": {"expr": "1"}}]}}`),
			[]string{plan.CodeInvalidBound, plan.CodeInvalidBody}, nil},
		{"foreach without steps or bound", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "steps": []}}`),
			[]string{plan.CodeInvalidBound, plan.CodeInvalidBody}, nil},
		{"missing field of item", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 2,
			"steps": [`+call("x", "movies", "movie_details", `"path": {"movie_id": "${ item.movie_id }"}`)+`]}}`),
			[]string{plan.CodeMissingResponseField}, &plan.Problem{Message: "item does not have movie_id"}},
		{"body step used outside its foreach", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 2,
			"steps": [`+call("x", "movies", "movie_details", `"path": {"movie_id": "${ item.id }"}`)+`]}}`,
			call("d", "movies", "delete_rating", `"path": {"movie_id": "${ steps.x.output.id }"}`)),
			[]string{plan.CodeBodyStepReference}, &plan.Problem{Message: "steps.each.output[i].x"}},
		{"foreach output of a missing body field", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 2,
			"steps": [`+call("x", "movies", "movie_details", `"path": {"movie_id": "${ item.id }"}`)+`]}}`,
			call("d", "movies", "delete_rating", `"path": {"movie_id": "${ steps.each.output[0].y.id }"}`)),
			[]string{plan.CodeMissingResponseField}, nil},
		{"later body step", steps(find, `{"id": "each", "kind": "foreach", "foreach": {"items": "steps.find.output.results", "max_iterations": 2, "steps": [
			`+call("x", "movies", "movie_details", `"path": {"movie_id": "${ steps.y.output.id }"}`)+`,
			`+call("y", "movies", "movie_details", `"path": {"movie_id": "${ item.id }"}`)+`]}}`),
			[]string{plan.CodeForwardReference}, nil},

		{"condition gating an earlier step", steps(find, `{"id": "c", "kind": "condition", "condition": {"expr": "steps.find.output.page > 1",
			"then": ["find"], "else": ["nope"]}}`), []string{plan.CodeInvalidBranch, plan.CodeInvalidBranch}, nil},
		{"condition that is not boolean", steps(find, `{"id": "c", "kind": "condition", "condition": {"expr": "len(steps.find.output.results)"}}`),
			[]string{plan.CodeInvalidExpression}, nil},

		{"duplicate and invalid ids", steps(find, find, call("find-2", "movies", "search_movie", `"query": {"query": "x"}`)),
			[]string{plan.CodeDuplicateID, plan.CodeInvalidID}, nil},
		{"reserved id", steps(call("in", "movies", "search_movie", `"query": {"query": "x"}`)), []string{plan.CodeInvalidID}, nil},
		{"unknown kind", steps(`{"id": "a", "kind": "wait"}`), []string{plan.CodeInvalidKind}, nil},
		{"kind without its part, and an extra part", steps(`{"id": "a", "kind": "transform"}`,
			`{"id": "b", "kind": "transform", "transform": {"expr": "1"}, "condition": {"expr": "true"}}`),
			[]string{plan.CodeInvalidKind, plan.CodeInvalidKind}, nil},
		{"invalid inputs", `{"inputs": [{"name": "a", "type": "text"}, {"name": "a"}, {"name": "1b"}, {"name": "n", "type": "integer", "default": "x"}],
			"steps": [` + find + `]}`, []string{plan.CodeInvalidInput, plan.CodeDuplicateID, plan.CodeInvalidID, plan.CodeTypeMismatch}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := plan.Validate(decodePlan(t, tt.plan), cat)
			assert.Equal(t, tt.codes, nilIfEmpty(problems.Codes()), problems.String())
			if tt.want != nil && assert.NotEmpty(t, problems) {
				got := problems[0]
				if tt.want.Step != "" {
					assert.Equal(t, tt.want.Step, got.Step)
				}
				if tt.want.Field != "" {
					assert.Equal(t, tt.want.Field, got.Field)
				}
				assert.Contains(t, got.Message, tt.want.Message)
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	cat := testCatalogue(t)
	many := make([]string, plan.MaxSteps+1)
	for i := range many {
		many[i] = call(fmt.Sprintf("s%d", i), "movies", "search_movie", `"query": {"query": "x"}`)
	}
	assert.Equal(t, []string{plan.CodeTooManySteps}, plan.Validate(decodePlan(t, steps(many...)), cat).Codes())

	bad := make([]string, plan.MaxProblems+10)
	for i := range bad {
		bad[i] = call(fmt.Sprintf("s%d", i), "movies", "nope", "")
	}
	problems := plan.Validate(decodePlan(t, steps(bad...)), cat)
	require.Len(t, problems, plan.MaxProblems)
	assert.Equal(t, plan.CodeTooManyProblems, problems[len(problems)-1].Code)

	long := call("find", "movies", "search_movie", `"query": {"query": "${ `+strings.Repeat("1 + ", plan.MaxExpressionLength/4)+`1 }"}`)
	assert.Equal(t, []string{plan.CodeInvalidExpression}, plan.Validate(decodePlan(t, steps(long)), cat).Codes())
}

func TestProblemsErr(t *testing.T) {
	t.Parallel()
	assert.NoError(t, plan.Problems(nil).Err())
	problems := plan.Problems{
		{Step: "find", Field: "call.query.page", Code: plan.CodeTypeMismatch, Message: "expected integer, got string \"two\""},
		{Field: "steps", Code: plan.CodeEmptyPlan, Message: "the plan has no steps"},
	}
	err := problems.Err()
	require.Error(t, err)
	assert.ErrorIs(t, err, plan.ErrInvalidPlan)
	assert.ErrorIs(t, err, domain.ErrInvalid)
	var invalid *plan.InvalidPlanError
	require.True(t, errors.As(err, &invalid))
	assert.Equal(t, problems, invalid.Problems)
	assert.Equal(t, `invalid plan: step find, call.query.page: expected integer, got string "two" (type_mismatch); steps: the plan has no steps (empty_plan)`, err.Error())
}
