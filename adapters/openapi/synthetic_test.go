package openapi

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/openapi/openapitest"
)

func TestSyntheticDocumentImports(t *testing.T) {
	t.Parallel()
	res := importDoc(t, string(openapitest.SyntheticDocument(10)), Options{})
	assert.Len(t, res.Operations, 40)
	assert.Empty(t, res.Warnings)
	assert.Contains(t, Links(res.Operations), Link{
		Key: "resource3_id", Consumer: "delete_resource3", Parameter: "resource3_id", In: "path", Required: true,
		Producer: "list_resource3s", Field: "/data/*/id",
	})
}
