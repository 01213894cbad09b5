package tools

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendJSONMatchesEncodingJSON checks the fast encoder byte for byte
// against encoding/json, whose output size the tool cap is measured on.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, 0.0, math.Copysign(0, -1), 1.0, -42.0, 3.14159, 1e20, 1e21, 1e-6, 1e-7, 123456789012345678.0, math.MaxFloat64, 5e-324,
		"", "plain", "quote \" backslash \\ slash /", "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff\x00\x1f\x7f",
		"\u2028\u2029 é 日本 😀", "bad \xff utf8 \xc3", 12,
		[]any{}, []any{1.0, "a", nil, []any{true}}, []string{"a", "<b>"},
		map[string]any{}, map[string]any{"b": 1.0, "a": map[string]any{"z": []any{}, "é": "x", "<": ">"}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSON(nil, v)), "%#v", v)
	}
	assert.Equal(t, "null", string(appendJSON(nil, math.Inf(1))), "not JSON: null rather than an error")
}

func TestToolSizeIsExact(t *testing.T) {
	t.Parallel()
	for _, desc := range []string{"GET /a (read).", "POST /b (write). «<b>&</b> \u2028 é»"} {
		params := []byte(`{"type":"object"}`)
		encoded, err := json.Marshal(map[string]any{"type": "function", "function": map[string]any{
			"name": "x__y", "description": desc, "parameters": json.RawMessage(params)}})
		require.NoError(t, err)
		assert.Equal(t, len(encoded), toolSize("x__y", desc, len(params)))
	}
}
