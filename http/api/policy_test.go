package api

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
)

// TestPolicyListsEveryServedRoute keeps Policy and the engine in step.
func TestPolicyListsEveryServedRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var served, declared []string
	for _, r := range h.handler.(*gin.Engine).Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	for _, p := range Policy() {
		declared = append(declared, p.Method+" "+p.Path)
	}
	assert.ElementsMatch(t, served, declared)
}
