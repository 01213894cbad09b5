package openapi

import (
	"context"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/apiq/apiq/adapters/openapi/openapitest"
	"github.com/apiq/apiq/internal/heapmeter"
)

// The import benchmarks run APIQ's Import (parse → validated → catalogue
// built) side by side with bare kin-openapi loading the same bytes, so the
// ratio is measured on one machine in one run. Besides time and allocated
// bytes they report peak-heap-MB: the largest live heap seen while one
// operation ran, above the heap before it (see heapmeter). The end-to-end
// import (register → catalogue queryable) is measured in the commands
// package: BenchmarkConnectionImport.
//
//	go test -run '^$' -bench Import -benchtime 5x ./adapters/openapi/

func BenchmarkImportStripe(b *testing.B) {
	data, err := os.ReadFile(specPath("stripe-3.0.json"))
	if err != nil {
		b.Fatalf("read stripe-3.0.json: %v", err)
	}
	benchmarkSideBySide(b, data)
}

func BenchmarkImportSynthetic(b *testing.B) {
	data := openapitest.SyntheticDocument(250)
	b.Logf("synthetic document: %.1f MB", float64(len(data))/1e6)
	benchmarkSideBySide(b, data)
}

func benchmarkSideBySide(b *testing.B, data []byte) {
	b.Run("kin-openapi", func(b *testing.B) {
		heapmeter.Measure(b, func() any {
			doc, err := openapi3.NewLoader().LoadFromData(data)
			if err != nil {
				b.Fatalf("load: %v", err)
			}
			return doc
		})
	})
	b.Run("apiq", func(b *testing.B) {
		heapmeter.Measure(b, func() any {
			res, err := Import(context.Background(), data, Options{})
			if err != nil {
				b.Fatalf("import: %v", err)
			}
			return res
		})
	})
}
