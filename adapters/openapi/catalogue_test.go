package openapi

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportSwagger2YAML(t *testing.T) {
	t.Parallel()
	doc := `swagger: "2.0"
info: {title: Shop, version: "2"}
host: shop.example.com
basePath: /api
schemes: [http, https]
securityDefinitions:
  key: {type: apiKey, in: query, name: token}
security: [{key: []}]
paths:
  /orders:
    post:
      consumes: [application/json]
      parameters:
        - {name: body, in: body, required: true, schema: {$ref: '#/definitions/Order'}}
      responses:
        '201': {description: created, schema: {$ref: '#/definitions/Order'}}
  /orders/{order_id}/cancel:
    post:
      consumes: [application/x-www-form-urlencoded]
      parameters:
        - {name: order_id, in: path, required: true, type: string}
        - {name: reason, in: formData, type: string}
      responses:
        '200': {description: cancelled}
definitions:
  Order:
    type: object
    properties:
      id: {type: string}
      total: {type: number}
`
	res := importDoc(t, doc, Options{})
	assert.Equal(t, "2.0", res.Version)
	assert.Equal(t, FormatYAML, res.Format)
	assert.Equal(t, "https://shop.example.com/api", res.BaseURL, "https is preferred")
	assert.Equal(t, []SecurityScheme{{Name: "key", Type: "apiKey", In: "query", ParameterName: "token"}}, res.SecuritySchemes)

	create := operationKeyed(t, res, "POST /orders")
	require.NotNil(t, create.RequestBody)
	assert.True(t, create.RequestBody.Required)
	assert.Equal(t, "application/json", create.RequestBody.ContentType)
	assert.Equal(t, "number", at(t, decoded(t, create.RequestBody.Schema), "properties", "total", "type"))
	assert.Equal(t, []SecurityAlternative{{{Scheme: "key"}}}, create.Security)
	assert.Equal(t, []ProducedValue{{Key: "order_id", Field: "/id"}}, create.Produces)

	cancel := operationKeyed(t, res, "POST /orders/{order_id}/cancel")
	assert.Equal(t, SideEffectDestructive, cancel.SideEffect)
	require.NotNil(t, cancel.RequestBody)
	assert.Equal(t, "application/x-www-form-urlencoded", cancel.RequestBody.ContentType)
	assert.Contains(t, at(t, decoded(t, cancel.RequestBody.Schema), "properties"), "reason")
	assert.True(t, cancel.OperationIDSynthesized)
	assert.Equal(t, "post_orders_by_order_id_cancel", cancel.OperationID)
}

func TestImportCatalogueDetails(t *testing.T) {
	t.Parallel()
	doc := header30 + `servers:
  - url: http://{region}.api.example.com/{version}
    variables:
      region: {default: eu, enum: [eu, us]}
      version: {default: v2}
tags: [{name: pets}]
paths:
  /pets/{id}:
    summary: One pet
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: X-Trace, in: header, schema: {type: string}}
    get:
      tags: [pets]
      description: Returns a pet.
      deprecated: true
      security: []
      parameters:
        - {name: X-Trace, in: header, required: true, description: overrides the path's, schema: {type: string, format: uuid}}
        - name: filter
          in: query
          content:
            application/json:
              schema: {type: object, properties: {kind: {type: string}}}
      responses:
        '200':
          description: the pet
          content:
            application/xml: {schema: {type: string}}
            application/json: {schema: {type: object, properties: {id: {type: string}}}}
        '404':
          description: missing
          content:
            application/json: {schema: {type: object}}
`
	res := importDoc(t, doc, Options{})
	assert.Equal(t, []Server{{URL: "http://eu.api.example.com/v2"}}, res.Servers)
	assert.Equal(t, "http://eu.api.example.com/v2", res.BaseURL)
	op := operationKeyed(t, res, "GET /pets/{id}")
	assert.Equal(t, "One pet", op.Summary, "the path item's summary when the operation has none")
	assert.Equal(t, "Returns a pet.", op.Description)
	assert.Equal(t, []string{"pets"}, op.Tags)
	assert.True(t, op.Deprecated)
	assert.Equal(t, []SecurityAlternative{}, op.Security, "security: [] means anonymous")
	require.Len(t, op.Parameters, 3)
	assert.Equal(t, Parameter{Name: "id", In: "path", Required: true, Schema: []byte(`{"type":"string"}`)}, op.Parameters[0])
	assert.Equal(t, Parameter{Name: "X-Trace", In: "header", Required: true, Description: "overrides the path's",
		Schema: []byte(`{"type":"string","format":"uuid"}`)}, op.Parameters[1])
	assert.Equal(t, "filter", op.Parameters[2].Name)
	assert.Equal(t, "string", at(t, decoded(t, op.Parameters[2].Schema), "properties", "kind", "type"))

	require.Len(t, op.Responses, 2)
	ok, missing := op.Responses[0], op.Responses[1]
	assert.Equal(t, "200", ok.Status)
	assert.Equal(t, []string{"application/json", "application/xml"}, ok.ContentTypes)
	assert.Equal(t, "application/json", ok.ContentType, "JSON is preferred")
	assert.NotEmpty(t, ok.Schema)
	assert.Equal(t, Response{Status: "404", Description: "missing", ContentTypes: []string{"application/json"}}, missing,
		"only success responses carry a schema")
}

func TestImportDeeplyNestedDocument(t *testing.T) {
	t.Parallel()
	const levels = 1000
	inner := strings.Repeat(`{"type":"object","properties":{"a":`, levels) + `{"type":"string"}` + strings.Repeat(`}}`, levels)
	doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":` +
		`{"description":"ok","content":{"application/json":{"schema":` + inner + `}}}}}}}}`
	res, err := Import(context.Background(), []byte(doc), Options{})
	require.NoError(t, err)
	s := responseSchema(t, res, "GET /a")
	assert.Contains(t, at(t, s, "properties", "a", "properties", "a", "properties", "a", "properties", "a",
		"properties", "a", "properties", "a", "properties", "a", "description"), "(truncated: nested deeper than 6 levels")
}
