package openapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportNeverReadsExternalRefs points $refs at a real file and a real
// HTTP server, both serving valid definitions: had the loader read either,
// the reference would resolve and the import succeed. It fails with
// external_ref instead, and the server sees no request.
func TestImportNeverReadsExternalRefs(t *testing.T) {
	t.Parallel()
	const definitions = "Pet:\n  type: object\n  properties:\n    id: {type: string}\n"
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(definitions))
	}))
	t.Cleanup(server.Close)
	file := filepath.Join(t.TempDir(), "definitions.yaml")
	require.NoError(t, os.WriteFile(file, []byte(definitions), 0o600))

	tests := []struct {
		name string
		ref  string
	}{
		{name: "absolute file path", ref: file + "#/Pet"},
		{name: "file URL", ref: "file://" + file + "#/Pet"},
		{name: "relative file", ref: "definitions.yaml#/Pet"},
		{name: "http URL", ref: server.URL + "/definitions.yaml#/Pet"},
		{name: "whole remote document", ref: server.URL + "/definitions.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range []string{"schema", "response", "parameter"} {
				doc := documentWithRef(kind, tt.ref)
				_, err := Import(context.Background(), []byte(doc), Options{})
				var ie *ImportError
				require.ErrorAs(t, err, &ie, kind)
				assert.Equal(t, CodeExternalRef, ie.Code, "%s: %v", kind, ie)
				assert.Contains(t, ie.Message, tt.ref, kind)
				assert.Positive(t, ie.Line, kind)
				assert.Contains(t, ie.Pointer, "$ref", kind)
			}
		})
	}
	t.Cleanup(func() {
		assert.Zero(t, requests.Load(), "the server must never be asked for a referenced document")
	})
}

// documentWithRef places ref where a schema, a response or a parameter goes.
func documentWithRef(kind, ref string) string {
	quoted := "'" + ref + "'"
	switch kind {
	case "response":
		return header30 + "paths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: " + quoted + "}\n"
	case "parameter":
		return header30 + "paths:\n  /a:\n    get:\n      parameters:\n        - $ref: " + quoted +
			"\n      responses:\n        '200': {description: ok}\n"
	default:
		return header30 + "paths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n" +
			"          content:\n            application/json:\n              schema: {$ref: " + quoted + "}\n"
	}
}
