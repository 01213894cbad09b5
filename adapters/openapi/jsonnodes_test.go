package openapi

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi/openapitest"
)

// decodeFromNodes loads a JSON document through jsonNodeTree alone (no
// fallback), as loadOpenAPI3 first tries.
func decodeFromNodes(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	root, err := jsonNodeTree(data)
	require.NoError(t, err)
	doc := &openapi3.T{}
	require.NoError(t, root.Decode(doc))
	require.NoError(t, newLoader(context.Background()).ResolveRefsIn(doc, nil))
	return doc
}

// TestJSONNodeTreeLoadsAsKinOpenAPI checks that a JSON document decoded
// from jsonNodeTree's nodes is the document kin-openapi loads from the
// text, and imports to the same result.
func TestJSONNodeTreeLoadsAsKinOpenAPI(t *testing.T) {
	t.Parallel()
	scalars := `{"openapi": "3.0.3", "info": {"title": "Scalars \u00e9\ud83d\ude00 \"quoted\"", "version": "1"},
	  "x-numbers": [0, -0, 1, 1.0, 1.5e3, -2E-2, 12345678901234, 3.14159],
	  "x-values": {"null": null, "t": true, "f": false, "empty": {}, "list": [], "date": "2024-01-01T00:00:00Z", "n": "42"},
	  "paths": {"/things/{id}": {"get": {"operationId": "getThing",
	    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 1e6, "default": 5}}],
	    "responses": {"200": {"description": "OK", "content": {"application/json": {
	      "schema": {"type": "object", "properties": {"id": {"type": "integer", "example": 7}, "at": {"type": "string", "format": "date-time", "example": "2024-01-01"}},
	                 "additionalProperties": false},
	      "example": {"id": 7, "ratio": 0.5, "tags": ["a", null, true]}}}}}}}}}`
	tests := []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"stripe 3.0", func(t *testing.T) []byte { return readSpec(t, "stripe-3.0.json") }},
		{"tmdb", func(t *testing.T) []byte { return readSpec(t, "tmdb-3.0.json") }},
		{"synthetic", func(*testing.T) []byte { return openapitest.SyntheticDocument(20) }},
		{"scalars", func(*testing.T) []byte { return []byte(scalars) }},
		{"openapi 3.1", func(*testing.T) []byte {
			return []byte(`{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"operationId": "a",
			  "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": ["string", "null"], "examples": ["x"]}}}}}}}}}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data(t)
			want, version := kinLoad(t, data)
			got := decodeFromNodes(t, data)
			if version.family == familyOpenAPI31 {
				require.NoError(t, resolveComponentPathItems(newLoader(context.Background()), got))
			}
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			gotJSON, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(wantJSON), string(gotJSON))

			res, err := Import(context.Background(), data, Options{})
			require.NoError(t, err)
			opts := Options{}
			opts.setDefaults()
			viaKin, err := fromLoaded(context.Background(), want, data, FormatJSON, version, res.ContentHash, opts)
			require.NoError(t, err)
			viaKin.Document, res.Document = nil, nil
			assert.Equal(t, viaKin, res)
		})
	}
}

// kinLoad loads a document as load does, but from the text with
// kin-openapi's own parser.
func kinLoad(t *testing.T, data []byte) (*openapi3.T, declaredVersion) {
	t.Helper()
	version, verr := detectVersion(data, FormatJSON)
	require.Nil(t, verr)
	loader := newLoader(context.Background())
	doc, err := loader.LoadFromData(data)
	require.NoError(t, err)
	if version.family == familyOpenAPI31 {
		require.NoError(t, resolveComponentPathItems(loader, doc))
	}
	return doc, version
}

// Documents that are not strict JSON are left to kin-openapi's parser,
// whose errors (or leniency) Import keeps.
func TestJSONNodeTreeRefusesWhatIsNotStrictJSON(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"duplicate key":  `{"openapi": "3.0.3", "openapi": "3.0.3"}`,
		"trailing data":  `{"openapi": "3.0.3"} {}`,
		"unquoted key":   `{openapi: "3.0.3"}`,
		"trailing comma": `{"openapi": "3.0.3",}`,
		"truncated":      `{"openapi": "3.0.3", "info": {`,
	} {
		_, err := jsonNodeTree([]byte(doc))
		assert.Error(t, err, name)
	}
	// kin-openapi reads a duplicate key as JSON does (the last one wins):
	// so does the import, through the fallback.
	res, err := Import(context.Background(), []byte(`{"openapi": "3.0.3", "info": {"title": "first", "version": "1"},
		"info": {"title": "second", "version": "1"}, "paths": {}}`), Options{})
	require.NoError(t, err)
	assert.Equal(t, "second", res.Title)
}
