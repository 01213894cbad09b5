package openapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportOpenAPI31(t *testing.T) {
	t.Parallel()
	doc := `openapi: 3.1.0
info: {title: Pets, version: '1', summary: a 3.1 document}
jsonSchemaDialect: https://example.com/dialects/custom
webhooks:
  newPet:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Pet'}}}}
      responses: {'200': {description: ok}}
paths:
  /pets/{pet_id}:
    $ref: '#/components/pathItems/PetItem'
  /pets:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/Pet'}}
components:
  pathItems:
    PetItem:
      parameters: [{name: pet_id, in: path, required: true, schema: {type: string}}]
      get:
        operationId: getPet
        responses:
          '200':
            description: ok
            content: {application/json: {schema: {$ref: '#/components/schemas/Pet'}}}
  schemas:
    Pet:
      $schema: http://json-schema.org/draft-07/schema#
      type: object
      required: [id]
      properties:
        id: {type: [string, 'null'], const: abc, examples: [abc]}
        kind: {$dynamicRef: '#meta'}
`
	res := importDoc(t, doc, Options{})
	assert.Equal(t, "3.1.0", res.Version)
	require.Len(t, res.Operations, 2, "the path item in components.pathItems is resolved")
	get := operationKeyed(t, res, "GET /pets/{pet_id}")
	assert.Equal(t, "getPet", get.OperationID)
	assert.Equal(t, []Parameter{{Name: "pet_id", In: "path", Required: true, Schema: []byte(`{"type":"string"}`)}}, get.Parameters)
	assert.Equal(t, []ProducedValue{{Key: "pet_id", Field: "/id"}}, get.Produces)
	s := responseSchema(t, res, "GET /pets/{pet_id}")
	assert.Equal(t, []any{"string", "null"}, at(t, s, "properties", "id", "type"))
	assert.Equal(t, "abc", at(t, s, "properties", "id", "const"))

	for pointer, text := range map[string]string{
		"/webhooks/newPet":                                    "webhook \"newPet\" (1 operations) is not part of the catalogue",
		"/jsonSchemaDialect":                                  "https://example.com/dialects/custom",
		"/components/schemas/Pet/$schema":                     "draft-07",
		"/components/schemas/Pet/properties/kind/$dynamicRef": "#meta",
	} {
		w := warningAt(t, res, pointer)
		assert.Equal(t, CodeUnsupportedFeature, w.Code, pointer)
		assert.Contains(t, w.Message, text, pointer)
		assert.Positive(t, w.Line, pointer)
	}
	for _, w := range res.Warnings {
		assert.NotContains(t, w.Message, "pathItems", "components.pathItems is understood, not reported")
	}
}

func TestImportOpenAPI30WarnsAbout31Keywords(t *testing.T) {
	t.Parallel()
	doc := header30 + `paths:
  /a:
    post:
      callbacks:
        done:
          '{$request.body#/url}':
            post:
              responses: {'200': {description: ok}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  v: {type: string, const: x}
`
	res := importDoc(t, doc, Options{})
	require.Len(t, res.Operations, 1)
	w := warningAt(t, res, "/paths/~1a/post/responses/200/content/application~1json/schema/properties/v")
	assert.Equal(t, Code("const_field_for_3_1_plus"), w.Code)
	cb := warningAt(t, res, "/paths/~1a/post/callbacks")
	assert.Equal(t, CodeUnsupportedFeature, cb.Code)
}
