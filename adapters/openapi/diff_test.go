package openapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	before := importDoc(t, header30+`security: [{key: []}]
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, schema: {type: integer}}
        - {name: tag, in: query, schema: {type: string}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {type: array, items: {type: string}}}}
    post:
      operationId: addPet
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses: {'201': {description: created}}
  /pets/{id}:
    get:
      operationId: getPet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
    delete:
      operationId: deletePet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {'204': {description: gone}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://t.example/token', scopes: {}}}}
`, Options{})
	after := importDoc(t, header30+`security: [{key: []}]
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, required: true, schema: {type: integer}}
        - {name: cursor, in: query, schema: {type: string}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {type: array, items: {type: object}}}}
        '429': {description: slow down}
    post:
      operationId: addPet
      deprecated: true
      security: [{oauth: []}]
      requestBody: {required: true, content: {application/x-www-form-urlencoded: {schema: {type: object}}}}
      responses: {'201': {description: created}}
  /pets/{id}:
    get:
      operationId: getPet
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
  /owners:
    get:
      operationId: listOwners
      responses: {'200': {description: ok}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://t.example/token', scopes: {}}}}
`, Options{})

	d := Diff(before.Operations, after.Operations)
	assert.Equal(t, []OperationRef{{Method: "GET", Path: "/owners", OperationID: "listOwners"}}, d.Added)
	assert.Equal(t, []OperationRef{{Method: "DELETE", Path: "/pets/{id}", OperationID: "deletePet"}}, d.Removed)
	assert.Equal(t, []OperationChange{
		{
			OperationRef: OperationRef{Method: "GET", Path: "/pets", OperationID: "listPets"},
			Changes: []string{
				"added query parameter cursor",
				"query parameter limit is now required",
				"removed query parameter tag",
				"response 200 schema changed",
				"response 429 added",
			},
		},
		{
			OperationRef: OperationRef{Method: "POST", Path: "/pets", OperationID: "addPet"},
			Changes: []string{
				"request body required changed to true",
				"request body content types changed from [application/json] to [application/x-www-form-urlencoded]",
				"security changed from key to oauth",
				"now deprecated",
			},
		},
	}, d.Changed)
	assert.False(t, d.Empty())

	same := Diff(after.Operations, after.Operations)
	assert.True(t, same.Empty(), "%+v", same)
}
