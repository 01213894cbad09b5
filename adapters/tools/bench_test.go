package tools_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/tools"
)

// BenchmarkStripeTools builds the tool of every operation of the Stripe
// document (417), names included; the import itself is not timed. Target:
// ≤ 200 ms per operation of the benchmark.
func BenchmarkStripeTools(b *testing.B) {
	eps := endpoints("s1", "Stripe", catalogue(b, "stripe-3.0.json"))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set, err := tools.NewSet(eps, tools.Options{})
		require.NoError(b, err)
		refs := set.Refs()
		for start := 0; start < len(refs); start += tools.MaxToolsPerRequest {
			_, err := set.Tools(refs[start:min(start+tools.MaxToolsPerRequest, len(refs))])
			require.NoError(b, err)
		}
	}
}
