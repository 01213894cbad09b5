package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// benchTenant is a tenant with more than 5,000 endpoints: Stripe imported
// under twelve connections, plus TMDB and the petstore. It is built once per
// test binary (the benchmark function runs several times).
var benchTenant = struct {
	once    sync.Once
	fixture *catalogueFixture
	count   int
	took    time.Duration
}{}

const benchTenantID = "tenant-bench"

func loadBenchTenant(b *testing.B) (*catalogueFixture, int) {
	b.Helper()
	benchTenant.once.Do(func() {
		f := newCatalogueFixture(b)
		stripe := specOperations(b, "stripe-3.0.json")
		start := time.Now()
		for i := range 12 {
			f.register(b, benchTenantID, fmt.Sprintf("stripe-%02d", i), "Stripe", stripe)
		}
		f.register(b, benchTenantID, "tmdb", "TMDB", specOperations(b, "tmdb-3.0.json"))
		f.register(b, benchTenantID, "petstore", "Petstore", specOperations(b, "petstore-3.0.yaml"))
		benchTenant.took = time.Since(start)
		require.NoError(b, f.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM rm_catalogue.endpoints WHERE tenant_id = $1`, benchTenantID).Scan(&benchTenant.count))
		for _, table := range []string{"search_documents", "endpoints", "terms", "connections"} {
			// as autovacuum would after the imports (hint bits, statistics)
			_, err := f.pool.Exec(context.Background(), `VACUUM (ANALYZE) rm_catalogue.`+table)
			require.NoError(b, err)
		}
		benchTenant.fixture = f
	})
	if benchTenant.fixture == nil {
		b.Fatal("the benchmark tenant could not be built")
	}
	return benchTenant.fixture, benchTenant.count
}

// BenchmarkSearchEndpoints measures SearchEndpoints (limit 20) over one
// tenant's 5,000+ endpoints, cycling through the labelled queries, and
// reports the latency percentiles. It first checks with EXPLAIN ANALYZE
// that the text search finds its candidates through the GIN index.
func BenchmarkSearchEndpoints(b *testing.B) {
	f, count := loadBenchTenant(b)
	set := loadLabelledSet(b)
	ctx := context.Background()
	b.Logf("tenant %s: %d endpoints (14 connections, loaded in %s)", benchTenantID, count, benchTenant.took.Round(time.Millisecond))
	for _, query := range []string{"who starred in Inception?", "refund the last charge of customer cus_123"} {
		plan, err := explainSearch(ctx, f.pool, benchTenantID, query)
		require.NoError(b, err)
		b.Logf("EXPLAIN ANALYZE of the text search for %q:\n%s", query, plan)
	}
	plan, err := explainSearch(ctx, f.pool, benchTenantID, "who starred in Inception?")
	require.NoError(b, err)
	require.Contains(b, plan, "Bitmap Index Scan on search_documents_search_idx", "a selective search must use the GIN index")
	for _, q := range set.Queries[:len(set.Queries)/4] { // warm the caches
		_, err := SearchEndpoints(ctx, f.pool, benchTenantID, q.Query, SearchOptions{})
		require.NoError(b, err)
	}
	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := set.Queries[i%len(set.Queries)]
		start := time.Now()
		_, err := SearchEndpoints(ctx, f.pool, benchTenantID, q.Query, SearchOptions{Limit: 20})
		durations = append(durations, time.Since(start))
		if err != nil {
			b.Fatalf("search %q: %v", q.Query, err)
		}
	}
	b.StopTimer()
	slices.Sort(durations)
	pct := func(p float64) time.Duration { return durations[min(len(durations)-1, int(p*float64(len(durations))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(count), "endpoints")
}

// explainSearch returns the EXPLAIN ANALYZE output of the text search of
// query, run as SearchEndpoints runs it.
func explainSearch(ctx context.Context, db SearchDB, tenantID, query string) (string, error) {
	tune := defaultSearchTuning()
	tx, err := beginSearch(ctx, db)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	terms, err := weighTerms(ctx, tx, tenantID, analyzeQuery(query, tune.boosts), tune.commonShare)
	if err != nil {
		return "", err
	}
	s := newScorer(tx, tenantID, terms, tune.classWeights[:])
	where, arg := s.candidates(len(s.args) + 1)
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+s.hitSelect(where, DefaultSearchLimit, false), append(s.args, arg)...)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
