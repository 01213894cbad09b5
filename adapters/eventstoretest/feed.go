package eventstoretest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
)

// feedReader pages through the feed like a projector: its cursor only moves
// forward, and it checks that the feed itself never goes backwards or
// repeats an event.
type feedReader struct {
	t      *testing.T
	feed   eventstore.Feed
	cursor eventstore.Position
	page   int
	seen   map[uuid.UUID]bool
}

func (s *suite) newFeedReader(t *testing.T, after eventstore.Position, page int) *feedReader {
	return &feedReader{t: t, feed: s.h.Feed, cursor: after, page: page, seen: map[uuid.UUID]bool{}}
}

// next reads one page and returns the events of it that keep.
func (r *feedReader) next(ctx context.Context, keep func(eventstore.RecordedEvent) bool) (ours []eventstore.RecordedEvent, n int) {
	r.t.Helper()
	page, err := r.feed.ReadAll(ctx, r.cursor, r.page)
	require.NoError(r.t, err, "read feed after %s", r.cursor)
	require.LessOrEqual(r.t, len(page), r.page, "ReadAll honours its limit")
	for _, ev := range page {
		require.Equal(r.t, 1, ev.Position.Compare(r.cursor), "feed event %s at %v is after the cursor %v", ev.ID, ev.Position, r.cursor)
		require.False(r.t, r.seen[ev.ID], "feed repeats event %s", ev.ID)
		r.seen[ev.ID] = true
		r.cursor = ev.Position
		if keep(ev) {
			ours = append(ours, ev)
		}
	}
	return ours, len(page)
}

// drain reads until the feed has nothing more to give right now.
func (r *feedReader) drain(ctx context.Context, keep func(eventstore.RecordedEvent) bool) []eventstore.RecordedEvent {
	r.t.Helper()
	var out []eventstore.RecordedEvent
	for {
		ours, n := r.next(ctx, keep)
		out = append(out, ours...)
		if n == 0 {
			return out
		}
	}
}

// until reads, waiting for wake-ups or polling, until want kept events
// have arrived or timeout passes.
func (r *feedReader) until(ctx context.Context, keep func(eventstore.RecordedEvent) bool, want int, timeout time.Duration) []eventstore.RecordedEvent {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wake := r.feed.Wake(ctx)
	var out []eventstore.RecordedEvent
	for len(out) < want {
		ours, n := r.next(context.WithoutCancel(ctx), keep)
		out = append(out, ours...)
		if n > 0 || len(out) >= want {
			continue
		}
		select {
		case <-wake:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			require.Failf(r.t, "feed incomplete", "%d of %d events readable after %s", len(out), want, timeout)
		}
	}
	return out
}

// readFeed returns the first want events that keep accepts after a
// position, and the cursor after them.
func (s *suite) readFeed(t *testing.T, after eventstore.Position, keep func(eventstore.RecordedEvent) bool, want int) ([]eventstore.RecordedEvent, eventstore.Position) {
	t.Helper()
	r := s.newFeedReader(t, after, 100)
	got := r.until(context.Background(), keep, want, s.h.FeedTimeout)
	return got, r.cursor
}

// feedOrder appends from concurrent writers, each to streams of its own,
// then checks that the feed holds every event exactly once with each
// stream's versions in order, and that small pages see what large pages see.
func (s *suite) feedOrder(t *testing.T) {
	const writers, streamsPerWriter, eventsPerStream = 8, 3, 6
	ctx := context.Background()
	start, err := s.h.Feed.Head(ctx)
	require.NoError(t, err)
	total := writers * streamsPerWriter * eventsPerStream
	var last []eventstore.Position
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			next := make([]int, streamsPerWriter)
			for done := 0; done < streamsPerWriter*eventsPerStream; {
				k := rng.IntN(streamsPerWriter)
				n := min(1+rng.IntN(2), eventsPerStream-next[k])
				if n == 0 {
					continue
				}
				stream := s.stream("order", w*streamsPerWriter+k)
				batch := make([]eventstore.EventData, n)
				for i := range batch {
					batch[i] = event(stream, fmt.Sprintf("v%d", next[k]+i), 0, "ContractOrdered")
				}
				res, err := s.h.Store.Append(ctx, stream, int64(next[k])-1, batch)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				last = append(last, res.Position)
				mu.Unlock()
				next[k] += n
				done += n
			}
		}()
	}
	wg.Wait()
	require.False(t, t.Failed())

	small := s.newFeedReader(t, start, 7).until(ctx, s.ours("order"), total, s.h.FeedTimeout)
	require.Len(t, small, total)
	versions := map[string]int64{}
	ids := map[uuid.UUID]bool{}
	for _, ev := range small {
		assert.False(t, ids[ev.ID], "event %s once", ev.ID)
		ids[ev.ID] = true
		want, ok := versions[ev.StreamID]
		if !ok {
			want = 0
		}
		assert.Equal(t, want, ev.Version, "stream %s versions in feed order", ev.StreamID)
		versions[ev.StreamID] = ev.Version + 1
	}
	assert.Len(t, versions, writers*streamsPerWriter)

	large := s.newFeedReader(t, start, 1000).until(ctx, s.ours("order"), total, s.h.FeedTimeout)
	require.Len(t, large, total)
	for i := range small {
		assert.Equal(t, small[i].ID, large[i].ID, "page size does not change the order (%d)", i)
	}

	head, err := s.h.Feed.Head(ctx)
	require.NoError(t, err)
	for _, p := range last {
		assert.GreaterOrEqual(t, head.Compare(p), 0, "head %v covers appended %v", head, p)
	}
}

// feedWakes runs before the parallel cases, so the wake-up it sees comes
// from its own append (or, on a shared server, at worst from another one).
func (s *suite) feedWakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.FeedTimeout)
	defer cancel()
	start, err := s.h.Feed.Head(ctx)
	require.NoError(t, err)
	wake := s.h.Feed.Wake(ctx)
	stream := s.stream("wake", 0)
	_, err = s.h.Store.Append(ctx, stream, eventstore.NoStream, events(stream, "wake", 1))
	require.NoError(t, err)
	select {
	case <-wake:
	case <-ctx.Done():
		t.Fatalf("no wake-up within %s of an append", s.h.FeedTimeout)
	}
	got, _ := s.readFeed(t, start, s.ours("wake"), 1)
	assert.Equal(t, stream, got[0].StreamID)
}

// lateCommit holds an append open while later appends commit: a reader
// catching up meanwhile must see none of them, and once the transaction
// commits it must receive the held events and then the later ones, none
// skipped.
func (s *suite) lateCommit(t *testing.T) {
	if s.h.HoldOpen == nil {
		t.Skip("adapter has no transactions to hold open: every append commits atomically in feed order")
	}
	ctx := context.Background()
	start, err := s.h.Feed.Head(ctx)
	require.NoError(t, err)

	held := s.stream("late", 0)
	heldEvents := events(held, "held", 2)
	heldRes, commit, err := s.h.HoldOpen(ctx, held, heldEvents)
	require.NoError(t, err)
	committed := false
	t.Cleanup(func() {
		if !committed {
			_ = commit(context.Background())
		}
	})

	var want []eventstore.EventData
	want = append(want, heldEvents...)
	for i := 1; i <= 4; i++ {
		stream := s.stream("late", i)
		evs := events(stream, "later", 1)
		res, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, evs)
		require.NoError(t, err, "appends to other streams commit while one is held open")
		assert.Equal(t, 1, res.Position.Compare(heldRes.Position), "later append lands after the held one")
		want = append(want, evs...)
	}

	reader := s.newFeedReader(t, start, 50)
	assert.Empty(t, reader.drain(ctx, s.ours("late")), "nothing after the held event is readable before it commits")
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, reader.drain(ctx, s.ours("late")), "still nothing while it stays open")

	require.NoError(t, commit(ctx))
	committed = true
	got := reader.until(ctx, s.ours("late"), len(want), s.h.FeedTimeout)
	require.Len(t, got, len(want))
	for i, ev := range got {
		assert.Equal(t, want[i].ID, ev.ID, "feed event %d: held events first, then the later ones", i)
	}
	assert.Equal(t, heldRes.Position, got[len(heldEvents)-1].Position, "held append reported its feed position")
	assert.Empty(t, reader.drain(ctx, s.ours("late")), "no duplicates afterwards")
}
