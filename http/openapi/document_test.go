package openapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadServesValidJSON(t *testing.T) {
	t.Parallel()
	doc, err := Load(context.Background())
	require.NoError(t, err)

	var decoded map[string]any
	require.NoError(t, json.Unmarshal(doc.JSON(), &decoded))
	assert.Equal(t, "3.0.3", decoded["openapi"])
	assert.Contains(t, decoded["paths"], "/v1/users/{id}")
	assert.NotEmpty(t, doc.Operations())
}

func TestReferencePageListsEveryOperation(t *testing.T) {
	t.Parallel()
	doc, err := Load(context.Background())
	require.NoError(t, err)

	page, err := doc.ReferencePage()
	require.NoError(t, err)
	html := string(page)
	for _, op := range doc.Operations() {
		assert.Contains(t, html, ">"+op.Method+"</span><span class=\"path\">"+op.Path+"<", "operation %v", op)
	}
	assert.Contains(t, html, "<code>password</code>", "request body fields are listed")
	assert.NotContains(t, html, "<script", "the page is static")
	assert.NotContains(t, strings.ToLower(html), "http://", "the page loads nothing from elsewhere")
	assert.NotContains(t, strings.ToLower(html), "https://", "the page loads nothing from elsewhere")
}

func TestGinPathToOpenAPI(t *testing.T) {
	t.Parallel()
	tests := []struct{ gin, want string }{
		{"/healthz", "/healthz"},
		{"/v1/users/:id", "/v1/users/{id}"},
		{"/v1/a/:x/b/:y", "/v1/a/{x}/b/{y}"},
		{"/files/*path", "/files/{path}"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, GinPathToOpenAPI(tt.gin), tt.gin)
	}
}
