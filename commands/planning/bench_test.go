package planning_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm/llmtest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

// benchStep is one tool call a benchmark model answers with.
type benchStep struct {
	operationID string
	args        map[string]any
}

// benchScenario is a request and the plan the model answers it with.
type benchScenario struct {
	prompt string
	steps  []benchStep
}

// benchScenarios are requests over the benchmark tenant's catalogue
// (Stripe, TMDB, the petstore), with data passed between steps.
var benchScenarios = []benchScenario{
	{"Find the customer with email ann@example.com and list their open invoices", []benchStep{
		{"GetCustomers", map[string]any{"step_id": "customer", "email": "ann@example.com", "limit": 1}},
		{"GetInvoices", map[string]any{"step_id": "invoices", "customer": "${ steps.customer.output.data[0].id }", "status": "open"}},
	}},
	{"Refund the last charge of customer cus_123", []benchStep{
		{"GetCharges", map[string]any{"step_id": "charges", "customer": "cus_123", "limit": 1}},
		{"PostChargesChargeRefund", map[string]any{"step_id": "refund", "charge": "${ steps.charges.output.data[0].id }"}},
	}},
	{"Create a product named T-shirt and a price of 2000 cents in eur for it", []benchStep{
		{"PostProducts", map[string]any{"step_id": "product", "body": map[string]any{"name": "T-shirt"}}},
		{"PostPrices", map[string]any{"step_id": "price", "body": map[string]any{
			"currency": "eur", "unit_amount": 2000, "product": "${ steps.product.output.id }"}}},
	}},
	{"Search the movie Inception and show its credits", []benchStep{
		{"GET_search-movie", map[string]any{"step_id": "find", "query": "Inception"}},
		{"GET_movie-movie_id-credits", map[string]any{"step_id": "credits", "movie_id": "${ steps.find.output.results[0].id }"}},
	}},
}

// benchModel answers each request at once with its scenario's tool calls,
// naming the tools offered (the first connection's that has the
// operation). The scenario is found by the request's prompt.
func benchModel(b *testing.B) *llmtest.Server {
	b.Helper()
	var mu sync.Mutex
	var missing []string
	b.Cleanup(func() {
		if len(missing) > 0 {
			b.Errorf("operations not offered: %v", missing)
		}
	})
	return llmtest.New(b, llmtest.WithAPIKey("sk-test-key"), llmtest.WithHandler(func(r llmtest.Request) llmtest.Reply {
		prompt := r.Body.Messages[1].Content
		i := slices.IndexFunc(benchScenarios, func(s benchScenario) bool { return s.prompt == prompt })
		if i < 0 {
			return llmtest.Reply{Status: 400, Error: &llmtest.ErrorBody{Message: "unknown prompt", Type: "llmtest_error"}}
		}
		names := r.ToolNames()
		var calls []llmtest.Call
		for _, s := range benchScenarios[i].steps {
			j := slices.IndexFunc(names, func(n string) bool { return strings.HasSuffix(n, "__"+s.operationID) })
			if j < 0 {
				mu.Lock()
				missing = append(missing, s.operationID)
				mu.Unlock()
				continue
			}
			calls = append(calls, call(names[j], s.args))
		}
		return llmtest.ToolCalls(llmtest.Usage(20000, 120), calls...)
	}))
}

// BenchmarkPlanningOverhead5000 plans with the real planner on a tenant
// with 5,000+ operations in PostgreSQL (Stripe under twelve connections,
// TMDB and the petstore), asking an llmtest model that answers at once
// through the go-openai client. The overhead is Plan's duration less the
// planner's own timing of the model call (Result.ModelDuration): tenant
// and connections read, catalogue search, tool build, decoding and
// validation, confirmation summary. Target: p99 ≤ 50 ms. The tenant's
// tool set is built by the first request (cold-ms) and kept in memory.
// Percentiles are over the timed requests, or 300 when there were fewer.
func BenchmarkPlanningOverhead5000(b *testing.B) {
	f := newFixture(b)
	stripe := importSpec(b, testservers.ReadSpec(b, "stripe-3.0.json"))
	start := time.Now()
	operations := 0
	for c := range 12 {
		f.connect(b, "bench", fmt.Sprintf("stripe-%02d", c), fmt.Sprintf("Stripe %02d", c), stripe, "bearer")
		operations += len(stripe)
	}
	f.connect(b, "bench", "tmdb", "TMDB", tmdb(b), "api_key")
	petstore := importSpec(b, testservers.ReadSpec(b, "petstore-3.0.yaml"))
	f.connect(b, "bench", "petstore", "Petstore", petstore, "")
	operations += len(tmdb(b)) + len(petstore)
	for _, table := range []string{"search_documents", "endpoints", "terms", "connections"} {
		// as autovacuum would after the imports (hint bits, statistics)
		_, err := f.pool.Exec(context.Background(), `VACUUM (ANALYZE) rm_catalogue.`+table)
		require.NoError(b, err)
	}
	b.Logf("tenant with about %d operations registered in %s", operations, time.Since(start).Round(time.Millisecond))
	srv := benchModel(b)
	p := f.newPlanner(b, newModel(b, srv, 10*time.Second), nil)
	ctx := context.Background()

	plan1 := func(i int) planning.Result {
		res, err := p.Plan(ctx, planning.Request{TenantID: "bench", Prompt: benchScenarios[i%len(benchScenarios)].prompt})
		require.NoError(b, err)
		require.Equal(b, plan.StatusProposed, res.Status, res.Outcome.Problems.String())
		return res
	}
	cold := plan1(0)
	b.Logf("cold request: %s (model %s), %d candidates, %d tools offered", cold.Duration, cold.ModelDuration,
		cold.Outcome.Planning.Candidates, cold.Outcome.Planning.ToolsOffered)
	for i := range benchScenarios { // warm the caches
		plan1(i)
	}
	overheads := make([]time.Duration, 0, 1024)
	totals := make([]time.Duration, 0, 1024)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res := plan1(i)
		overheads = append(overheads, res.Duration-res.ModelDuration)
		totals = append(totals, res.Duration)
	}
	b.StopTimer()
	// Percentiles over at least minSamples requests, whatever -benchtime.
	const minSamples = 300
	for i := len(overheads); i < minSamples; i++ {
		res := plan1(i)
		overheads = append(overheads, res.Duration-res.ModelDuration)
		totals = append(totals, res.Duration)
	}
	// The catalogue search's share: the search the planner makes, alone.
	searches := make([]time.Duration, 0, len(overheads))
	for i := range len(overheads) {
		start := time.Now()
		_, err := projections.SearchEndpoints(ctx, f.pool, "bench", benchScenarios[i%len(benchScenarios)].prompt,
			projections.SearchOptions{Limit: projections.MaxSearchLimit})
		searches = append(searches, time.Since(start))
		require.NoError(b, err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	pct := func(ds []time.Duration, p float64) time.Duration {
		return ds[min(len(ds)-1, int(p*float64(len(ds))))]
	}
	slices.Sort(overheads)
	slices.Sort(totals)
	slices.Sort(searches)
	b.ReportMetric(ms(pct(overheads, 0.50)), "p50-ms")
	b.ReportMetric(ms(pct(overheads, 0.99)), "p99-ms")
	b.ReportMetric(ms(pct(totals, 0.50)), "total-p50-ms")
	b.ReportMetric(ms(pct(totals, 0.99)), "total-p99-ms")
	b.ReportMetric(ms(pct(searches, 0.50)), "search-p50-ms")
	b.ReportMetric(ms(pct(searches, 0.99)), "search-p99-ms")
	b.ReportMetric(ms(cold.Duration-cold.ModelDuration), "cold-ms")
	b.ReportMetric(float64(operations), "operations")
}
