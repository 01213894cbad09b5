// Package eventstoretest is the acceptance suite every event store adapter
// runs from its own tests: one table of behaviours, so the PostgreSQL and the
// EventStoreDB adapters cannot drift apart.
package eventstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// DefaultFeedTimeout bounds how long the suite waits for committed events to
// become readable in the feed.
const DefaultFeedTimeout = 30 * time.Second

// HoldOpenFunc appends events to a new stream inside a transaction that it
// leaves open, and returns where they landed and the function that commits
// that transaction.
type HoldOpenFunc func(ctx context.Context, stream string, events []eventstore.EventData) (eventstore.AppendResult, func(context.Context) error, error)

// Harness is what an adapter hands the suite.
type Harness struct {
	// Store is the adapter under test.
	Store eventstore.Store
	// Feed is the adapter's global feed; it may hold events of other tests,
	// which the suite ignores (every case uses stream ids of its own).
	Feed eventstore.Feed
	// HoldOpen is set by adapters whose appends can sit in an uncommitted
	// transaction (PostgreSQL); nil for adapters where an append commits
	// atomically (EventStoreDB), which skips the late-commit case.
	HoldOpen HoldOpenFunc
	// FeedTimeout bounds the wait for committed events to appear in the feed
	// (DefaultFeedTimeout when zero).
	FeedTimeout time.Duration
}

// Run runs the contract cases against the harness newHarness returns (called
// once; the cases run in parallel on unique stream ids).
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	h := newHarness(t)
	if h.Store == nil || h.Feed == nil {
		t.Fatal("eventstoretest: harness lacks Store or Feed")
	}
	if h.FeedTimeout <= 0 {
		h.FeedTimeout = DefaultFeedTimeout
	}
	s := &suite{h: h, run: randomID(t)}
	// Serial cases run first, alone; the parallel ones then run together.
	cases := []struct {
		name   string
		run    func(t *testing.T)
		serial bool
	}{
		{"FeedWakesReaders", s.feedWakes, true},
		{"AppendToNewAndExistingStreams", s.appendToNewAndExisting, false},
		{"InvalidAppendsAreRefused", s.invalidAppends, false},
		{"WrongExpectedVersion", s.wrongExpectedVersion, false},
		{"ConcurrentAppendersOneWinnerPerVersion", s.concurrentAppenders, false},
		{"IdempotentReappend", s.idempotentReappend, false},
		{"ReadStreamFromVersionWithLimit", s.readFromVersion, false},
		{"MissingStream", s.missingStream, false},
		{"MetadataRoundTrip", s.metadataRoundTrip, false},
		{"FeedOrderUnderConcurrentWriters", s.feedOrder, false},
		{"FeedNeverSkipsLateCommit", s.lateCommit, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.serial {
				t.Parallel()
			}
			c.run(t)
		})
	}
}

type suite struct {
	h   Harness
	run string
}

// stream returns a stream id unique to this run and case.
func (s *suite) stream(kind string, n int) string {
	return fmt.Sprintf("ctest%s-%s%d", s.run, kind, n)
}

// ours reports whether ev belongs to a stream of this run and case kind.
func (s *suite) ours(kind string) func(eventstore.RecordedEvent) bool {
	prefix := fmt.Sprintf("ctest%s-%s", s.run, kind)
	return func(ev eventstore.RecordedEvent) bool {
		return len(ev.StreamID) > len(prefix) && ev.StreamID[:len(prefix)] == prefix
	}
}

const tenant = "tenant-contract"

// event builds the index-th event of a request to stream.
func event(stream, request string, index int, typ string) eventstore.EventData {
	return eventstore.EventData{
		ID:   eventstore.EventID(tenant, stream, request, index),
		Type: typ,
		Data: json.RawMessage(fmt.Sprintf(`{"request":%q,"index":%d}`, request, index)),
		Metadata: eventstore.Metadata{
			TenantID:      tenant,
			Actor:         eventstore.Actor{Subject: "contract", Role: "SYSTEM", AuthMethod: "system"},
			RequestID:     request,
			SchemaVersion: 1,
			OccurredAt:    time.Now(),
		},
	}
}

// events builds n events of one request.
func events(stream, request string, n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = event(stream, request, i, fmt.Sprintf("ContractEvent%d", i%3))
	}
	return out
}

func randomID(t *testing.T) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("eventstoretest: random id: %v", err)
	}
	return hex.EncodeToString(b[:])
}
