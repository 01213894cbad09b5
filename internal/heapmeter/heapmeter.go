// Package heapmeter measures the peak live heap of an operation, for
// benchmarks that compare memory as well as time.
package heapmeter

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// heapObjects is the runtime metric of the bytes held by live and
// not-yet-swept heap objects.
const heapObjects = "/memory/classes/heap/objects:bytes"

// Peak samples the live heap every millisecond while op runs (and while its
// result is still referenced) and returns the growth over the heap before
// it: the most memory op held at once.
func Peak(op func() any) uint64 {
	sample := []metrics.Sample{{Name: heapObjects}}
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

// Measure runs op once per benchmark iteration after a garbage collection
// (outside the timer), reporting allocations and, as peak-heap-MB, the
// largest Peak of any iteration.
func Measure(b *testing.B, op func() any) {
	b.Helper()
	MeasureEach(b, nil, op)
}

// MeasureEach is Measure with setup (when not nil) run before each
// iteration, outside the timer.
func MeasureEach(b *testing.B, setup func(), op func() any) {
	b.Helper()
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		if setup != nil {
			setup()
		}
		runtime.GC()
		b.StartTimer()
		peak = max(peak, Peak(op))
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
