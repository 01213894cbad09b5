package commands_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi/openapitest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/internal/heapmeter"
	"github.com/apiq/apiq/projections"
)

// BenchmarkConnectionImport measures a connection's import end to end —
// the register command (document imported, document and catalogue stored
// as blobs, events appended) and the catalogue projector, through the
// projection runner, until the catalogue lists the connection's endpoints —
// side by side with bare kin-openapi loading the same bytes in the same
// run. Both report time and peak-heap-MB (the largest live heap above the
// heap before the operation, the runner's work included). The blobs are
// emptied before each registration so every one stores its document and
// catalogue, as a first registration does.
//
//	go test -run '^$' -bench ConnectionImport -benchtime 5x ./commands/
func BenchmarkConnectionImport(b *testing.B) {
	e := newConnEnv(b, nil)
	tenant := e.tenantWithAdmin(b, "bench").TenantID
	runner, err := projections.NewRunner(projections.RunnerConfig{
		Pool: e.pool, Feed: e.store, Logger: slog.New(slog.DiscardHandler), WaitTimeout: 5 * time.Minute,
		Projectors: []projections.Projector{projections.NewConnectionsProjector(), projections.NewCatalogueProjector()},
	})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		require.NoError(b, <-done)
	})

	for _, doc := range []struct {
		name string
		data func() []byte
		ops  int
	}{
		{"stripe-3.0", func() []byte { return testservers.ReadSpec(b, "stripe-3.0.json") }, 417},
		{"synthetic-1000", func() []byte { return openapitest.SyntheticDocument(250) }, 1000},
	} {
		data := doc.data()
		b.Run(doc.name, func(b *testing.B) {
			b.Logf("%s: %.1f MB", doc.name, float64(len(data))/1e6)
			b.Run("kin-openapi", func(b *testing.B) {
				heapmeter.Measure(b, func() any {
					loaded, err := openapi3.NewLoader().LoadFromData(data)
					require.NoError(b, err)
					return loaded
				})
			})
			b.Run("apiq", func(b *testing.B) {
				n := 0
				clearBlobs := func() {
					_, err := e.pool.Exec(context.Background(), `DELETE FROM blobs`)
					require.NoError(b, err)
				}
				heapmeter.MeasureEach(b, clearBlobs, func() any {
					n++
					endpoints := importConnection(b, e, runner, tenant, fmt.Sprintf("import-%s-%d", doc.name, n), data)
					require.Equal(b, doc.ops, endpoints)
					return endpoints
				})
			})
		})
	}
}

// importConnection registers a connection from data, waits until the
// catalogue lists its endpoints and returns how many it holds.
func importConnection(b *testing.B, e *connEnv, runner *projections.Runner, tenant, requestID string, data []byte) int {
	b.Helper()
	ctx := context.Background()
	res, err := e.register.Handle(ctx, userOf(tenant, requestID), commands.RegisterConnection{
		Name: requestID, Document: commands.DocumentSource{Text: data},
	})
	require.NoError(b, err)
	require.NoError(b, runner.WaitForPosition(ctx, res.Position, "catalogue"))
	page, err := projections.ListEndpoints(ctx, e.pool, tenant, res.ConnectionID, projections.ListEndpointsOptions{Limit: 1})
	require.NoError(b, err)
	require.Len(b, page.Endpoints, 1)
	var endpoints int
	require.NoError(b, e.pool.QueryRow(ctx, `SELECT count(*) FROM rm_catalogue.endpoints WHERE connection_id = $1`,
		res.ConnectionID).Scan(&endpoints))
	return endpoints
}
