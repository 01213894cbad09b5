package openapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// header30 starts a valid OpenAPI 3.0 document in YAML.
const header30 = "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\n"

func TestImportErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		code    Code
		pointer string
		line    int // 0: not checked
		message string
	}{
		{
			name: "yaml syntax", code: CodeInvalidSyntax, line: 6,
			doc: header30 + "paths:\n  /a: @x\n", message: "invalid YAML",
		},
		{
			name: "json syntax", code: CodeInvalidSyntax, line: 3, message: "invalid JSON",
			doc: "{\n  \"openapi\": \"3.0.3\",\n  \"info\": {\"title\": \"t\",, \"version\": \"1\"},\n  \"paths\": {}\n}",
		},
		{name: "empty", code: CodeInvalidSyntax, doc: " \n\t\n", message: "empty"},
		{name: "root is a list", code: CodeInvalidDocument, doc: "- openapi\n- 3.0.0\n", line: 1, message: "object"},
		{name: "openapi 3.2", code: CodeUnsupportedVersion, pointer: "/openapi", line: 1, doc: "openapi: 3.2.0\ninfo: {title: t, version: '1'}\npaths: {}\n"},
		{name: "openapi 4", code: CodeUnsupportedVersion, pointer: "/openapi", doc: `{"openapi": "4.0.0", "info": {"title": "t", "version": "1"}, "paths": {}}`},
		{name: "swagger 1.2", code: CodeUnsupportedVersion, pointer: "/swagger", line: 2, doc: "info: {title: t}\nswagger: '1.2'\n"},
		{name: "no version", code: CodeMissingField, doc: "info: {title: t, version: '1'}\npaths: {}\n", message: "openapi"},
		{name: "no info", code: CodeMissingField, pointer: "/info", doc: "openapi: 3.0.3\npaths: {}\n"},
		{name: "no title", code: CodeMissingField, pointer: "/info/title", line: 3, doc: "openapi: 3.0.3\ninfo:\n  version: '1'\npaths: {}\n"},
		{name: "no version in info", code: CodeMissingField, pointer: "/info/version", doc: "openapi: 3.0.3\ninfo:\n  title: t\npaths: {}\n"},
		{name: "no paths in 3.0", code: CodeMissingField, pointer: "/paths", doc: header30},
		{
			name: "dangling schema ref", code: CodeDanglingRef, line: 13, message: "#/components/schemas/Nope",
			pointer: "/paths/~1a/get/responses/200/content/application~1json/schema/$ref",
			doc: header30 + `paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Nope'}
`,
		},
		{
			name: "dangling parameter ref", code: CodeDanglingRef, line: 9,
			pointer: "/paths/~1a/get/parameters/0/$ref",
			doc: header30 + `paths:
  /a:
    get:
      parameters:
        - $ref: '#/components/parameters/Missing'
      responses:
        '200': {description: ok}
`,
		},
		{
			name: "ref cycle without a definition", code: CodeDanglingRef, message: "cycle",
			doc: header30 + `paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/A'}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A'}
`,
		},
		{
			name: "external file ref", code: CodeExternalRef, line: 13, message: "never follows",
			pointer: "/paths/~1a/get/responses/200/content/application~1json/schema/$ref",
			doc: header30 + `paths:
  /a:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: 'schemas.yaml#/Pet'}
`,
		},
		{
			name: "wrong type", code: CodeInvalidDocument, pointer: "/paths/~1a/get/deprecated", line: 8,
			doc: header30 + `paths:
  /a:
    get:
      deprecated: "true"
      responses:
        '200': {description: ok}
`,
		},
		{
			name: "swagger 2.0 dangling ref", code: CodeDanglingRef, message: "#/definitions/Nope", line: 2,
			pointer: "/paths/~1a/get/responses/200/schema/$ref",
			doc: `{"swagger": "2.0", "info": {"title": "t", "version": "1"},
  "paths": {"/a": {"get": {"responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Nope"}}}}}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Import(context.Background(), []byte(tt.doc), Options{})
			var ie *ImportError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.code, ie.Code, ie.Error())
			if tt.pointer != "" {
				assert.Equal(t, tt.pointer, ie.Pointer, ie.Error())
			}
			if tt.line != 0 {
				assert.Equal(t, tt.line, ie.Line, ie.Error())
				assert.Positive(t, ie.Column)
			}
			if tt.message != "" {
				assert.Contains(t, ie.Message, tt.message)
			}
			assert.Contains(t, ie.Error(), string(tt.code))
		})
	}
}

func TestImportTooLarge(t *testing.T) {
	t.Parallel()
	doc := []byte(header30 + "paths: {}\n")
	_, err := Import(context.Background(), doc, Options{MaxBytes: int64(len(doc) - 1)})
	require.ErrorIs(t, err, ErrTooLarge)
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, CodeTooLarge, ie.Code)

	res, err := Import(context.Background(), doc, Options{MaxBytes: int64(len(doc))})
	require.NoError(t, err, "a document exactly at the limit imports")
	assert.Empty(t, res.Operations)
}

func TestReadDocument(t *testing.T) {
	t.Parallel()
	data, err := ReadDocument(strings.NewReader("0123456789"), 10)
	require.NoError(t, err)
	assert.Equal(t, "0123456789", string(data))

	_, err = ReadDocument(strings.NewReader("0123456789A"), 10)
	assert.ErrorIs(t, err, ErrTooLarge)

	_, err = ReadDocument(strings.NewReader(strings.Repeat("x", DefaultMaxBytes+1)), 0)
	assert.ErrorIs(t, err, ErrTooLarge, "0 means the default limit")
}

func TestImportRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	_, err := Import(context.Background(), []byte(header30), Options{MaxBytes: -1, MaxSchemaBytes: 10, MaxWarnings: -2})
	require.Error(t, err)
	var ie *ImportError
	assert.False(t, errors.As(err, &ie), "bad options are the caller's error, not the document's")
	for _, field := range []string{"MaxBytes", "MaxSchemaBytes", "MaxWarnings"} {
		assert.Contains(t, err.Error(), field)
	}
}

func TestImportHonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Import(ctx, []byte(header30+"paths: {}\n"), Options{})
	assert.ErrorIs(t, err, context.Canceled)
}
