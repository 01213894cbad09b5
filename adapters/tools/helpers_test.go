package tools_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/tools"
)

// imported caches each shared document's catalogue: Stripe takes about a
// second to import, and the tests only read it.
var imported sync.Map // file name → *importOnce

type importOnce struct {
	once sync.Once
	ops  []openapi.Operation
	err  error
}

// catalogue imports a shared document once per test binary.
func catalogue(tb testing.TB, file string) []openapi.Operation {
	tb.Helper()
	v, _ := imported.LoadOrStore(file, &importOnce{})
	entry := v.(*importOnce)
	entry.once.Do(func() {
		res, err := openapi.Import(context.Background(), testservers.ReadSpec(tb, file), openapi.Options{})
		if err != nil {
			entry.err = err
			return
		}
		entry.ops = res.Operations
	})
	require.NoError(tb, entry.err)
	return entry.ops
}

// endpoints pairs a document's operations with one connection.
func endpoints(connectionID, name string, ops []openapi.Operation) []tools.Endpoint {
	out := make([]tools.Endpoint, len(ops))
	for i, op := range ops {
		out[i] = tools.Endpoint{ConnectionID: connectionID, ConnectionName: name, Operation: op}
	}
	return out
}

// newSet builds a set, failing the test on error.
func newSet(tb testing.TB, eps []tools.Endpoint) *tools.Set {
	tb.Helper()
	set, err := tools.NewSet(eps, tools.Options{})
	require.NoError(tb, err)
	return set
}

// parameters decodes a tool's parameters schema.
func parameters(tb testing.TB, tool openai.Tool) map[string]any {
	tb.Helper()
	raw, err := json.Marshal(tool.Function.Parameters)
	require.NoError(tb, err)
	var m map[string]any
	require.NoError(tb, json.Unmarshal(raw, &m))
	return m
}

// properties returns a schema's properties.
func properties(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	return p
}

// requiredOf returns a schema's required names.
func requiredOf(m map[string]any) []string {
	list, _ := m["required"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, v.(string))
	}
	return out
}
