package pgstore

import (
	"context"
	"sync"
)

// waker broadcasts coalescing wake-ups to every registered feed reader:
// many appends, at most one pending wake-up per reader.
type waker struct {
	mu      sync.Mutex
	readers map[chan struct{}]struct{}
}

func (w *waker) register(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.readers[ch] = struct{}{}
	w.mu.Unlock()
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		delete(w.readers, ch)
		w.mu.Unlock()
	}()
	return ch
}

func (w *waker) signal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.readers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
