package heapmeter

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPeakSeesMemoryHeldDuringTheOperation(t *testing.T) {
	const size = 64 << 20
	tests := []struct {
		name    string
		op      func() any
		atLeast uint64
		below   uint64
	}{
		{"kept in the result", func() any { return make([]byte, size) }, size, 4 * size},
		{"dropped before returning", func() any {
			buf := make([]byte, size)
			buf[len(buf)-1] = 1
			time.Sleep(20 * time.Millisecond) // sampled while held
			runtime.KeepAlive(buf)
			return nil
		}, size, 4 * size},
		{"nothing allocated", func() any { return 42 }, 0, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runtime.GC()
			peak := Peak(tt.op)
			assert.GreaterOrEqual(t, peak, tt.atLeast)
			assert.Less(t, peak, tt.below)
		})
	}
}
