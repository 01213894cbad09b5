package plan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain/plan"
)

// runEnv is an environment as the engine builds it after two steps.
func runEnv() plan.Env {
	return plan.Env{
		Inputs: map[string]any{"title": "Alien", "limit": 2.0},
		Steps: map[string]plan.StepResult{
			"find": {Status: 200, Output: map[string]any{"page": 1.0, "results": []any{
				map[string]any{"id": 348.0, "title": "Alien", "tags": []any{"sf", "horror"}},
				map[string]any{"id": 8077.0, "title": "Alien³"},
			}}},
			"skipped": {},
		},
		Item: map[string]any{"id": 8077.0, "name": "Ripley"},
	}
}

func TestCompileAndEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source string
		want   any
	}{
		{"path into a response", "steps.find.output.results[0].id", 348.0},
		{"wrapped in a template", "${ steps.find.output.results[1].title }", "Alien³"},
		{"status", "steps.find.status == 200", true},
		{"inputs", "inputs.title + '!'", "Alien!"},
		{"item", "item.name", "Ripley"},
		{"negative index", "steps.find.output.results[-1].id", 8077.0},
		{"builtins over a list", "map(filter(steps.find.output.results, .id > 1000), .title)", []any{"Alien³"}},
		{"skipped step with optional chaining", "steps.skipped.output?.id ?? 'none'", "none"},
		{"unknown step reads as skipped", "steps.nothing.status", 0},
		{"map literal", "{a: len(steps.find.output.results)}", map[string]any{"a": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := plan.Compile(tt.source)
			require.NoError(t, err)
			got, err := e.Eval(runEnv())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"", "  ", "1 +", "secrets.key", "steps.find.body", "os.Getenv('HOME')", "${ }",
		"[" + repeat("1,", 600) + "1]"} {
		_, err := plan.Compile(source)
		assert.ErrorIs(t, err, plan.ErrExpression, source)
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	e, err := plan.Compile("steps.skipped.output.id")
	require.NoError(t, err)
	_, err = e.Eval(runEnv())
	assert.ErrorIs(t, err, plan.ErrExpression)

	cond, err := plan.Compile("steps.find.output.page")
	require.NoError(t, err)
	_, err = cond.EvalBool(runEnv())
	assert.ErrorContains(t, err, "not a boolean")
	_, err = cond.EvalList(runEnv())
	assert.ErrorContains(t, err, "not a list")

	list, err := plan.Compile("steps.find.output.results")
	require.NoError(t, err)
	items, err := list.EvalList(runEnv())
	require.NoError(t, err)
	assert.Len(t, items, 2)
	none, err := plan.Compile("steps.skipped.output")
	require.NoError(t, err)
	items, err = none.EvalList(runEnv())
	require.NoError(t, err)
	assert.Empty(t, items)
	ok, err := plan.Compile("len(steps.find.output.results) == 2")
	require.NoError(t, err)
	b, err := ok.EvalBool(runEnv())
	require.NoError(t, err)
	assert.True(t, b)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  any
	}{
		{"whole template keeps the type", "${ steps.find.output.results[0].id }", 348.0},
		{"whole template with spaces trimmed", "${steps.find.output.page}", 1.0},
		{"text around expressions", "Movie ${ steps.find.output.results[0].id }: ${ inputs.title }", "Movie 348: Alien"},
		{"lists and null inside text", "tags=${ steps.find.output.results[0].tags } x=${ steps.skipped.output }", `tags=["sf","horror"] x=`},
		{"fraction inside text", "${ 1.5 } and ${ 2 }", "1.5 and 2"},
		{"escaped", "price: $${ not evaluated }", "price: ${ not evaluated }"},
		{"plain text", "just text", "just text"},
		{"braces inside string literals", `${ "}" + '{' }`, "}{"},
		{"nested object and list", map[string]any{"a": []any{"${ inputs.limit }", 3.0, true, nil}, "b": map[string]any{"c": "${ item.id }"}},
			map[string]any{"a": []any{2.0, 3.0, true, nil}, "b": map[string]any{"c": 8077.0}}},
		{"non-string scalars pass through", 42.0, 42.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := plan.Resolve(tt.value, runEnv())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestResolveDoesNotModifyItsInput(t *testing.T) {
	t.Parallel()
	body := map[string]any{"id": "${ item.id }", "list": []any{"${ inputs.title }"}}
	_, err := plan.Resolve(body, runEnv())
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"id": "${ item.id }", "list": []any{"${ inputs.title }"}}, body)
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	for _, value := range []any{"${ unclosed", map[string]any{"a": []any{"${ 1 + }"}}, "${ steps.skipped.output.id }"} {
		_, err := plan.Resolve(value, runEnv())
		assert.ErrorIs(t, err, plan.ErrExpression, "%v", value)
	}
}

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	tpl, err := plan.ParseTemplate(`a ${ x.y } b ${ {"k": "}"}.k } c`)
	require.NoError(t, err)
	assert.True(t, tpl.HasExpressions())
	assert.False(t, tpl.Whole())
	assert.Equal(t, []string{"x.y", `{"k": "}"}.k`}, tpl.Expressions())

	whole, err := plan.ParseTemplate("${inputs.a}")
	require.NoError(t, err)
	assert.True(t, whole.Whole())

	plain, err := plan.ParseTemplate("no $ { expression } here $${x}")
	require.NoError(t, err)
	assert.False(t, plain.HasExpressions())

	_, err = plan.ParseTemplate("${ 'unterminated }")
	assert.ErrorIs(t, err, plan.ErrExpression)
}
