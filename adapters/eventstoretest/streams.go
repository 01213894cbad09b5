package eventstoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
)

func (s *suite) appendToNewAndExisting(t *testing.T) {
	type step struct {
		expected int64
		n        int
		wantNext int64
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"new stream expecting no stream", []step{{eventstore.NoStream, 2, 1}}},
		{"new stream expecting any", []step{{eventstore.Any, 1, 0}}},
		{"existing stream at its version", []step{{eventstore.NoStream, 1, 0}, {0, 3, 3}, {3, 1, 4}}},
		{"existing stream expecting any", []step{{eventstore.NoStream, 2, 1}, {eventstore.Any, 2, 3}}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			stream := s.stream("append", i)
			var want []eventstore.EventData
			for j, st := range c.steps {
				evs := events(stream, fmt.Sprintf("req%d", j), st.n)
				res, err := s.h.Store.Append(ctx, stream, st.expected, evs)
				require.NoError(t, err, "step %d", j)
				assert.Equal(t, st.wantNext, res.NextExpectedVersion, "step %d", j)
				assert.False(t, res.Position.IsZero(), "step %d: append reports its position", j)
				want = append(want, evs...)
			}
			got, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
			require.NoError(t, err)
			require.Len(t, got, len(want))
			for v, ev := range got {
				assert.Equal(t, want[v].ID, ev.ID, "version %d", v)
				assert.Equal(t, int64(v), ev.Version)
				assert.Equal(t, stream, ev.StreamID)
				assert.Equal(t, want[v].Type, ev.Type)
				assert.JSONEq(t, string(want[v].Data), string(ev.Data))
				if v > 0 {
					assert.Equal(t, 1, ev.Position.Compare(got[v-1].Position), "positions increase along the stream")
				}
			}
		})
	}
}

func (s *suite) invalidAppends(t *testing.T) {
	ctx := context.Background()
	stream := s.stream("invalid", 0)
	cases := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"no events", stream, nil},
		{"empty stream id", "", events(stream, "r", 1)},
		{"event without type", stream, []eventstore.EventData{{ID: eventstore.EventID(tenant, stream, "r", 0)}}},
		{"event without id", stream, []eventstore.EventData{{Type: "ContractEvent"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.h.Store.Append(ctx, c.stream, eventstore.Any, c.events)
			assert.ErrorIs(t, err, eventstore.ErrInvalidAppend)
		})
	}
	_, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
	assert.ErrorIs(t, err, eventstore.ErrStreamNotFound, "refused appends write nothing")
}

func (s *suite) wrongExpectedVersion(t *testing.T) {
	cases := []struct {
		name       string
		existing   int // events already in the stream
		expected   int64
		wantActual int64
	}{
		{"no stream expected, stream exists", 1, eventstore.NoStream, 0},
		{"version ahead of the stream", 2, 5, 1},
		{"version behind the stream", 3, 0, 2},
		{"version expected, stream missing", 0, 0, eventstore.NoStream},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			stream := s.stream("wev", i)
			if c.existing > 0 {
				_, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, events(stream, "seed", c.existing))
				require.NoError(t, err)
			}
			_, err := s.h.Store.Append(ctx, stream, c.expected, events(stream, "conflict", 1))
			require.Error(t, err)
			assert.ErrorIs(t, err, eventstore.ErrWrongExpectedVersion)
			var wev *eventstore.WrongExpectedVersionError
			require.ErrorAs(t, err, &wev)
			assert.Equal(t, stream, wev.Stream)
			assert.Equal(t, c.expected, wev.Expected)
			assert.Equal(t, c.wantActual, wev.Actual)

			got, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
			if c.existing == 0 {
				assert.ErrorIs(t, err, eventstore.ErrStreamNotFound, "the refused append wrote nothing")
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, c.existing, "the refused append wrote nothing")
		})
	}
}

// concurrentAppenders races 16 writers for each next version of one stream:
// exactly one wins each round, every loser learns the winner's version.
func (s *suite) concurrentAppenders(t *testing.T) {
	const writers, rounds = 16, 4
	ctx := context.Background()
	stream := s.stream("race", 0)
	winners := make([]eventstore.EventData, rounds)
	for r := range rounds {
		expected := int64(r) - 1
		start := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]error, writers)
		proposals := make([]eventstore.EventData, writers)
		for w := range writers {
			proposals[w] = event(stream, fmt.Sprintf("r%d-w%d", r, w), 0, "ContractRaced")
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, results[w] = s.h.Store.Append(ctx, stream, expected, []eventstore.EventData{proposals[w]})
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for w, err := range results {
			if err == nil {
				wins++
				winners[r] = proposals[w]
				continue
			}
			var wev *eventstore.WrongExpectedVersionError
			if assert.ErrorAs(t, err, &wev, "round %d writer %d", r, w) {
				assert.ErrorIs(t, err, eventstore.ErrWrongExpectedVersion)
				assert.Equal(t, expected, wev.Expected, "round %d writer %d", r, w)
				assert.Equal(t, int64(r), wev.Actual, "round %d writer %d: loser sees the winner's version", r, w)
			}
		}
		require.Equal(t, 1, wins, "round %d: exactly one writer wins", r)
	}
	got, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, got, rounds)
	for r, ev := range got {
		assert.Equal(t, winners[r].ID, ev.ID, "version %d holds round %d's winner", r, r)
		assert.Equal(t, int64(r), ev.Version)
	}
}

func (s *suite) idempotentReappend(t *testing.T) {
	ctx := context.Background()
	stream := s.stream("idem", 0)
	batch := events(stream, "retried", 3)
	first, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, batch)
	require.NoError(t, err)
	require.Equal(t, int64(2), first.NextExpectedVersion)

	again, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, batch)
	require.NoError(t, err, "re-appending the same event ids succeeds")
	assert.Equal(t, first.NextExpectedVersion, again.NextExpectedVersion)

	got, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, got, 3, "the retry wrote nothing")
	for i, ev := range got {
		assert.Equal(t, batch[i].ID, ev.ID)
	}

	next, err := s.h.Store.Append(ctx, stream, again.NextExpectedVersion, events(stream, "after", 1))
	require.NoError(t, err, "the stream accepts new events after a retry")
	assert.Equal(t, int64(3), next.NextExpectedVersion)
}

func (s *suite) readFromVersion(t *testing.T) {
	ctx := context.Background()
	stream := s.stream("read", 0)
	_, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, events(stream, "ten", 10))
	require.NoError(t, err)
	cases := []struct {
		name     string
		from     int64
		limit    int
		versions []int64
	}{
		{"all", 0, 0, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"from 3", 3, 0, []int64{3, 4, 5, 6, 7, 8, 9}},
		{"from 3 limit 4", 3, 4, []int64{3, 4, 5, 6}},
		{"limit 1", 0, 1, []int64{0}},
		{"limit beyond the end", 8, 5, []int64{8, 9}},
		{"last version", 9, 0, []int64{9}},
		{"past the end", 10, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.h.Store.ReadStream(ctx, stream, c.from, c.limit)
			require.NoError(t, err)
			var versions []int64
			for _, ev := range got {
				versions = append(versions, ev.Version)
			}
			assert.Equal(t, c.versions, versions)
		})
	}
}

func (s *suite) missingStream(t *testing.T) {
	ctx := context.Background()
	for _, from := range []int64{0, 5} {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			got, err := s.h.Store.ReadStream(ctx, s.stream("missing", 0), from, 0)
			assert.ErrorIs(t, err, eventstore.ErrStreamNotFound)
			assert.Empty(t, got)
		})
	}
}

// metadataRoundTrip proves every envelope field survives the store, with
// times in UTC at microsecond precision.
func (s *suite) metadataRoundTrip(t *testing.T) {
	ctx := context.Background()
	stream := s.stream("meta", 0)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	occurred := time.Date(2025, 3, 14, 15, 9, 26, 535897932, zone)
	cases := []struct {
		name string
		meta eventstore.Metadata
	}{
		{"password user", eventstore.Metadata{
			TenantID:      tenant,
			Actor:         eventstore.Actor{Subject: "user-42", Role: "ADMIN", AuthMethod: "password"},
			CorrelationID: "corr-1", CausationID: "cause-1", RequestID: "req-meta-0",
			ClientIP: "203.0.113.7", UserAgent: "contract/1.0 (ünïcode)", SchemaVersion: 3, OccurredAt: occurred,
		}},
		{"api token", eventstore.Metadata{
			TenantID:      tenant,
			Actor:         eventstore.Actor{Subject: "svc-7", Role: "USER", AuthMethod: "api_token", TokenID: "tok-9"},
			CorrelationID: "corr-2", CausationID: "cause-2", RequestID: "req-meta-1",
			ClientIP: "2001:db8::1", UserAgent: "curl/8", SchemaVersion: 1, OccurredAt: occurred.Add(time.Nanosecond),
		}},
		{"sso", eventstore.Metadata{
			TenantID: tenant,
			Actor: eventstore.Actor{Subject: "user-43", Role: "AUDITOR", AuthMethod: "sso",
				SSOIssuer: "https://idp.example/", SSOSubject: "abc|123"},
			CorrelationID: "corr-3", CausationID: "cause-3", RequestID: "req-meta-2",
			ClientIP: "198.51.100.1", UserAgent: "Mozilla/5.0", SchemaVersion: 2, OccurredAt: occurred.Add(time.Hour),
		}},
	}
	batch := make([]eventstore.EventData, len(cases))
	for i, c := range cases {
		batch[i] = eventstore.EventData{
			ID: eventstore.EventID(tenant, stream, "meta", i), Type: "ContractMetadata",
			Data: json.RawMessage(`{"nested":{"list":[1,2.5,"three",null,true]},"text":"<&>"}`), Metadata: c.meta,
		}
	}
	start, err := s.h.Feed.Head(ctx)
	require.NoError(t, err)
	before := time.Now().Add(-time.Minute)
	res, err := s.h.Store.Append(ctx, stream, eventstore.NoStream, batch)
	require.NoError(t, err)
	after := time.Now().Add(time.Minute)

	fromStream, err := s.h.Store.ReadStream(ctx, stream, 0, 0)
	require.NoError(t, err)
	require.Len(t, fromStream, len(cases))
	fromFeed, _ := s.readFeed(t, start, s.ours("meta"), len(cases))
	require.Equal(t, res.Position, fromFeed[len(fromFeed)-1].Position, "the append reports its last event's feed position")

	for name, got := range map[string][]eventstore.RecordedEvent{"stream": fromStream, "feed": fromFeed} {
		for i, c := range cases {
			ev := got[i]
			want := c.meta
			want.OccurredAt = eventstore.NormalizeTime(c.meta.OccurredAt)
			assert.Equal(t, want, ev.Metadata, "%s %s", name, c.name)
			assert.Equal(t, time.UTC, ev.Metadata.OccurredAt.Location(), "%s %s: occurred_at in UTC", name, c.name)
			assert.Equal(t, time.UTC, ev.RecordedAt.Location(), "%s %s: recorded_at in UTC", name, c.name)
			assert.Equal(t, ev.RecordedAt, ev.RecordedAt.Truncate(time.Microsecond), "%s %s: recorded_at at µs", name, c.name)
			assert.True(t, ev.RecordedAt.After(before) && ev.RecordedAt.Before(after), "%s %s: recorded_at %s is now", name, c.name, ev.RecordedAt)
			assert.JSONEq(t, string(batch[i].Data), string(ev.Data), "%s %s", name, c.name)
			assert.Equal(t, batch[i].ID, ev.ID)
		}
	}
}
