package openapi

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// The import benchmarks run APIQ's Import (parse → validated → catalogue
// built) side by side with bare kin-openapi loading the same bytes, so the
// ratio is measured on one machine in one run. Besides time and allocated
// bytes they report peak-heap-MB: the largest live heap seen while one
// operation ran, above the heap before it.
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
	data := syntheticDocument(250)
	b.Logf("synthetic document: %.1f MB", float64(len(data))/1e6)
	benchmarkSideBySide(b, data)
}

func benchmarkSideBySide(b *testing.B, data []byte) {
	b.Run("kin-openapi", func(b *testing.B) {
		measure(b, func() any {
			doc, err := openapi3.NewLoader().LoadFromData(data)
			if err != nil {
				b.Fatalf("load: %v", err)
			}
			return doc
		})
	})
	b.Run("apiq", func(b *testing.B) {
		measure(b, func() any {
			res, err := Import(context.Background(), data, Options{})
			if err != nil {
				b.Fatalf("import: %v", err)
			}
			return res
		})
	})
}

// measure runs op b.N times, reporting allocations and the peak live heap.
func measure(b *testing.B, op func() any) {
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		b.StartTimer()
		peak = max(peak, peakHeap(op))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// peakHeap samples the live heap every millisecond while op runs (and
// while its result is still referenced) and returns the growth.
func peakHeap(op func() any) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	before := read()
	var mu sync.Mutex
	highest := before
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				v := read()
				mu.Lock()
				highest = max(highest, v)
				mu.Unlock()
			}
		}
	}()
	result := op()
	v := read()
	close(done)
	<-finished
	runtime.KeepAlive(result)
	mu.Lock()
	defer mu.Unlock()
	return max(highest, v) - before
}
