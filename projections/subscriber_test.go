package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/projections"
)

// The Subscriber is a plain Watermill subscriber: this drives it by hand,
// without a router, acking and nacking messages the way a router does.
func TestSubscriberDeliversEventsWithTheirTransaction(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := &countingProjector{name: "counts", version: 1}
	h.build(t, p)
	first := h.appendEvents(t, "sub-1", typeCounted)
	second := h.appendEvents(t, "sub-1", typeCounted)

	var committed []eventstore.Position
	sub, err := projections.NewSubscriber(projections.SubscriberConfig{
		Pool: h.pool, Feed: h.store, Projector: p, Logger: testLogger(),
		PollInterval: 20 * time.Millisecond, BackoffInitial: 10 * time.Millisecond, BackoffMax: 10 * time.Millisecond,
		OnCommit: func(pos eventstore.Position) { committed = append(committed, pos) },
	})
	require.NoError(t, err)

	_, err = sub.Subscribe(context.Background(), "other")
	require.Error(t, err, "a subscriber serves its projector's topic only")

	msgs, err := sub.Subscribe(context.Background(), "counts")
	require.NoError(t, err)

	// First delivery: nacked. The same event comes again (after a backoff).
	msg := receive(t, msgs)
	ev, db, ok := projections.MessageDelivery(msg)
	require.True(t, ok)
	assert.Equal(t, first, ev.Position)
	assert.Equal(t, ev.ID.String(), msg.UUID)
	assert.Equal(t, typeCounted, msg.Metadata.Get(projections.MetadataEventType))
	assert.Equal(t, "sub-1", msg.Metadata.Get(projections.MetadataStreamID))
	assert.Equal(t, first.String(), msg.Metadata.Get(projections.MetadataPosition))
	require.NoError(t, p.Apply(msg.Context(), db, ev))
	msg.Nack()

	for _, want := range []eventstore.Position{first, second} {
		msg := receive(t, msgs)
		ev, db, ok := projections.MessageDelivery(msg)
		require.True(t, ok)
		require.Equal(t, want, ev.Position)
		require.NoError(t, p.Apply(msg.Context(), db, ev))
		msg.Ack()
	}

	statusReader := mustRunner(t, h, p)
	require.Eventually(t, func() bool {
		return currentStatus(statusReader, "counts").Position == second
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, sub.Close())
	_, open := <-msgs
	assert.False(t, open, "Close closes the subscription's channel")
	assert.Equal(t, map[string]int64{"sub-1": 2}, h.counts(t, p), "the nacked attempt must be rolled back")
	require.NotEmpty(t, committed)
	assert.Equal(t, second, committed[len(committed)-1])
}

// mustRunner returns a runner (not running) for status queries.
func mustRunner(t *testing.T, h *harness, projectors ...projections.Projector) *projections.Runner {
	t.Helper()
	cfg := h.testConfig(projectors...)
	cfg.Registerer = nil
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	return r
}
