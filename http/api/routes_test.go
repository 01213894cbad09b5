package api

import (
	"context"
	"sort"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/openapi"
)

// TestRoutesMatchDocument fails when a gin route is missing from the
// OpenAPI document, or the document declares an operation no route serves.
func TestRoutesMatchDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	doc, err := openapi.Load(context.Background())
	require.NoError(t, err)

	var served []string
	for _, r := range h.handler.(*gin.Engine).Routes() {
		served = append(served, r.Method+" "+openapi.GinPathToOpenAPI(r.Path))
	}
	var documented []string
	for _, op := range doc.Operations() {
		documented = append(documented, op.Method+" "+op.Path)
	}
	sort.Strings(served)
	sort.Strings(documented)
	assert.Equal(t, documented, served)
}

// TestEveryRouteDeclaresItsAccess keeps the policy table complete: a route
// is public on purpose or names the roles that may call it, and the
// document's security section agrees.
func TestEveryRouteDeclaresItsAccess(t *testing.T) {
	t.Parallel()
	doc, err := openapi.Load(context.Background())
	require.NoError(t, err)
	s := &server{}
	for _, r := range s.routes() {
		assert.True(t, r.access.Public || len(r.access.Roles) > 0, "%s %s has no access policy", r.method, r.path)
		op := doc.Spec().Paths.Find(openapi.GinPathToOpenAPI(r.path)).GetOperation(r.method)
		require.NotNil(t, op, "%s %s", r.method, r.path)
		documentedPublic := op.Security != nil && len(*op.Security) == 0
		assert.Equal(t, r.access.Public, documentedPublic, "%s %s: policy and document disagree on authentication", r.method, r.path)
	}
}
