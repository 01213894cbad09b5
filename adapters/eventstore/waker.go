package eventstore

import (
	"context"
	"sync"
)

// Waker broadcasts coalesced wake-ups to feed readers: adapters implement
// Feed.Wake with it. Many signals leave at most one pending wake-up per
// reader. The zero value is ready to use.
type Waker struct {
	mu      sync.Mutex
	readers map[chan struct{}]struct{}
}

// Register returns a channel that receives after each Signal (coalesced)
// until ctx ends.
func (w *Waker) Register(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.readers == nil {
		w.readers = map[chan struct{}]struct{}{}
	}
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

// Signal wakes every registered reader that has no wake-up pending.
func (w *Waker) Signal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.readers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
