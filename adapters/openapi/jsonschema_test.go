package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// importDoc imports a test document that must succeed.
func importDoc(t *testing.T, doc string, opts Options) *Result {
	t.Helper()
	res, err := Import(context.Background(), []byte(doc), opts)
	require.NoError(t, err)
	return res
}

// decoded parses a catalogue schema, checking that it is valid JSON.
func decoded(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	require.True(t, json.Valid(raw), "invalid JSON: %s", raw)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// responseSchema returns the decoded success schema of an operation.
func responseSchema(t *testing.T, res *Result, key string) map[string]any {
	t.Helper()
	op := operationKeyed(t, res, key)
	for _, r := range op.Responses {
		if r.Schema != nil {
			return decoded(t, r.Schema)
		}
	}
	require.Failf(t, "no response schema", "%s has none", key)
	return nil
}

// at follows a path of keys/indexes through decoded JSON.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "not an object at %q: %v", s, v)
			v, ok = m[s]
			require.True(t, ok, "no %q in %v", s, m)
		case int:
			l, ok := v.([]any)
			require.True(t, ok && s < len(l), "no index %d in %v", s, v)
			v = l[s]
		}
	}
	return v
}

// schemaDoc is a document with one GET /x returning #/components/schemas/Root
// and one POST /x taking it, the given components appended.
func schemaDoc(version, components string) string {
	return "openapi: " + version + `
info: {title: t, version: '1'}
paths:
  /x:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Root'}
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Root'}
      responses:
        '204': {description: done}
components:
  schemas:
` + components
}

func TestCircularReferencesImport(t *testing.T) {
	t.Parallel()
	doc := schemaDoc("3.0.3", `    Root:
      type: object
      properties:
        children: {type: array, items: {$ref: '#/components/schemas/Root'}}
        parent: {$ref: '#/components/schemas/Root'}
        twin: {allOf: [{$ref: '#/components/schemas/Root'}]}
        extra: {type: object, additionalProperties: {$ref: '#/components/schemas/Root'}}
        other: {$ref: '#/components/schemas/Other'}
    Other:
      type: object
      properties:
        back: {$ref: '#/components/schemas/Root'}
`)
	start := time.Now()
	res := importDoc(t, doc, Options{})
	assert.Less(t, time.Since(start), 2*time.Second)
	s := responseSchema(t, res, "GET /x")
	marker := "(truncated: recursive reference to Root)"
	assert.Equal(t, marker, at(t, s, "properties", "children", "items", "description"))
	assert.Equal(t, "object", at(t, s, "properties", "children", "items", "type"))
	assert.Equal(t, marker, at(t, s, "properties", "parent", "description"))
	assert.Equal(t, marker, at(t, s, "properties", "twin", "description"))
	assert.Equal(t, marker, at(t, s, "properties", "extra", "additionalProperties", "description"))
	assert.Equal(t, marker, at(t, s, "properties", "other", "properties", "back", "description"))
}

func TestSchemaLimits(t *testing.T) {
	t.Parallel()
	var deep strings.Builder
	deep.WriteString("    Root:\n      type: object\n      properties:\n        l1: {$ref: '#/components/schemas/L1'}\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&deep, "    L%d:\n      type: object\n      properties:\n        l%d: {$ref: '#/components/schemas/L%d'}\n", i, i+1, i+1)
	}
	deep.WriteString("    L10: {type: string}\n")

	var wide strings.Builder
	wide.WriteString("    Root:\n      type: object\n      properties:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&wide, "        p%d:\n          type: object\n          description: %s\n          properties:\n", i, strings.Repeat("d", 80))
		for j := 0; j < 5; j++ {
			fmt.Fprintf(&wide, "            q%d: {type: string, description: %s}\n", j, strings.Repeat("e", 60))
		}
	}

	t.Run("depth", func(t *testing.T) {
		t.Parallel()
		res := importDoc(t, schemaDoc("3.0.3", deep.String()), Options{MaxSchemaDepth: 3})
		s := responseSchema(t, res, "GET /x")
		assert.Equal(t, "object", at(t, s, "properties", "l1", "properties", "l2", "properties", "l3", "type"))
		assert.Equal(t, "(truncated: nested deeper than 3 levels; L4)",
			at(t, s, "properties", "l1", "properties", "l2", "properties", "l3", "properties", "l4", "description"))
	})
	t.Run("size makes the rendering shallower", func(t *testing.T) {
		t.Parallel()
		res := importDoc(t, schemaDoc("3.0.3", wide.String()), Options{MaxSchemaBytes: 4096})
		op := operationKeyed(t, res, "GET /x")
		raw := op.Responses[0].Schema
		assert.LessOrEqual(t, len(raw), 4096)
		s := decoded(t, raw)
		assert.Contains(t, at(t, s, "properties", "p0", "description"), "(truncated: nested deeper than")
	})
	t.Run("too large even at the top", func(t *testing.T) {
		t.Parallel()
		res := importDoc(t, schemaDoc("3.0.3", wide.String()), Options{MaxSchemaBytes: 256})
		s := decoded(t, operationKeyed(t, res, "GET /x").Responses[0].Schema)
		assert.Equal(t, map[string]any{"type": "object", "description": "(truncated: schema larger than 256 bytes)"}, s)
	})
	t.Run("descriptions", func(t *testing.T) {
		t.Parallel()
		res := importDoc(t, schemaDoc("3.0.3", wide.String()), Options{MaxDescription: 10})
		s := responseSchema(t, res, "GET /x")
		assert.Equal(t, "dddddddddd…", at(t, s, "properties", "p0", "description"))
	})
}

func TestSchemaMapping(t *testing.T) {
	t.Parallel()
	components30 := `    Root:
      type: object
      required: [id, name, password]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string, nullable: true, example: Rex}
        password: {type: string, writeOnly: true}
        age: {type: integer, minimum: 0, exclusiveMinimum: true, maximum: 30}
        pet:
          description: the pet, annotated
          nullable: true
          allOf: [{$ref: '#/components/schemas/Pet'}]
        dog:
          allOf:
            - {$ref: '#/components/schemas/Pet'}
            - type: object
              required: [barks]
              properties:
                barks: {type: boolean}
        owner:
          nullable: true
          allOf:
            - {$ref: '#/components/schemas/Pet'}
            - properties:
                name: {type: string}
        clash:
          allOf:
            - {$ref: '#/components/schemas/Pet'}
            - properties:
                kind: {type: integer}
        either:
          oneOf: [{$ref: '#/components/schemas/Pet'}, {type: string}]
    Pet:
      type: object
      description: a pet
      required: [kind]
      properties:
        kind: {type: string, enum: [dog, cat]}
`
	res := importDoc(t, schemaDoc("3.0.3", components30), Options{})
	response := responseSchema(t, res, "GET /x")
	request := decoded(t, operationKeyed(t, res, "POST /x").RequestBody.Schema)

	t.Run("read and write only", func(t *testing.T) {
		assert.NotContains(t, at(t, request, "properties"), "id", "readOnly stays out of requests")
		assert.Equal(t, []any{"name", "password"}, at(t, request, "required"))
		assert.NotContains(t, at(t, response, "properties"), "password", "writeOnly stays out of responses")
		assert.Equal(t, []any{"id", "name"}, at(t, response, "required"))
	})
	t.Run("3.0 forms as 2020-12", func(t *testing.T) {
		assert.Equal(t, []any{"string", "null"}, at(t, response, "properties", "name", "type"))
		assert.Equal(t, []any{"Rex"}, at(t, response, "properties", "name", "examples"))
		assert.InDelta(t, 0.0, at(t, response, "properties", "age", "exclusiveMinimum"), 0)
		assert.InDelta(t, 30.0, at(t, response, "properties", "age", "maximum"), 0)
	})
	t.Run("allOf", func(t *testing.T) {
		pet := at(t, response, "properties", "pet").(map[string]any)
		assert.Equal(t, "the pet, annotated", pet["description"])
		assert.Equal(t, []any{"object", "null"}, pet["type"])
		assert.NotContains(t, pet, "allOf")
		assert.Equal(t, []any{"dog", "cat"}, at(t, pet, "properties", "kind", "enum"))

		dog := at(t, response, "properties", "dog").(map[string]any)
		assert.NotContains(t, dog, "allOf")
		assert.Equal(t, []any{"kind", "barks"}, dog["required"])
		assert.Contains(t, dog["properties"], "barks")
		assert.Contains(t, dog["properties"], "kind")

		owner := at(t, response, "properties", "owner").(map[string]any)
		assert.Equal(t, []any{"object", "null"}, owner["type"], "the parent's nullable wins")
		assert.Contains(t, owner["properties"], "name")

		clash := at(t, response, "properties", "clash").(map[string]any)
		assert.Len(t, clash["allOf"], 2, "conflicting definitions of kind stay an allOf")

		assert.Len(t, at(t, response, "properties", "either", "oneOf"), 2)
	})
}

func TestSchemaMapping31(t *testing.T) {
	t.Parallel()
	components := `    Root:
      type: object
      properties:
        name: {type: [string, 'null'], const: rex, examples: [rex]}
        score: {type: number, exclusiveMinimum: 1.5}
        tags: {type: array, prefixItems: [{type: string}], items: false}
        anything: true
`
	res := importDoc(t, schemaDoc("3.1.0", components), Options{})
	s := responseSchema(t, res, "GET /x")
	assert.Equal(t, []any{"string", "null"}, at(t, s, "properties", "name", "type"))
	assert.Equal(t, "rex", at(t, s, "properties", "name", "const"))
	assert.Equal(t, []any{"rex"}, at(t, s, "properties", "name", "examples"))
	assert.InDelta(t, 1.5, at(t, s, "properties", "score", "exclusiveMinimum"), 0)
	assert.Equal(t, map[string]any{"type": "string"}, at(t, s, "properties", "tags", "prefixItems", 0))
	assert.Equal(t, false, at(t, s, "properties", "tags", "items"))
	assert.Equal(t, true, at(t, s, "properties", "anything"))
}
