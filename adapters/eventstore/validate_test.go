package eventstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/eventstore"
)

func TestValidateAppend(t *testing.T) {
	t.Parallel()
	ev := func(tenant, request string) eventstore.EventData {
		return eventstore.EventData{ID: eventstore.EventID(tenant, "s-1", request, 0), Type: "T", Metadata: eventstore.Metadata{TenantID: tenant}}
	}
	cases := []struct {
		name     string
		stream   string
		expected int64
		events   []eventstore.EventData
		wantErr  string
	}{
		{"valid", "s-1", eventstore.NoStream, []eventstore.EventData{ev("t", "a"), ev("t", "b")}, ""},
		{"any", "s-1", eventstore.Any, []eventstore.EventData{ev("t", "a")}, ""},
		{"empty stream", "", 0, []eventstore.EventData{ev("t", "a")}, "empty stream id"},
		{"no events", "s-1", 0, nil, "no events"},
		{"expected below any", "s-1", -3, []eventstore.EventData{ev("t", "a")}, "expected version -3"},
		{"missing type", "s-1", 0, []eventstore.EventData{{ID: ev("t", "a").ID}}, "lacks id or type"},
		{"id twice", "s-1", 0, []eventstore.EventData{ev("t", "a"), ev("t", "a")}, "twice"},
		{"two tenants", "s-1", 0, []eventstore.EventData{ev("t", "a"), ev("u", "b")}, "span tenants"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := eventstore.ValidateAppend(c.stream, c.expected, c.events)
			if c.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, eventstore.ErrInvalidAppend)
			assert.ErrorContains(t, err, c.wantErr)
		})
	}
}

func TestStampMetadata(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", 3600))
	given := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("Y", -7200))
	cases := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero takes now", time.Time{}, time.Date(2025, 1, 2, 2, 4, 5, 6000, time.UTC)},
		{"given is normalised", given, time.Date(2024, 5, 6, 9, 8, 9, 123456000, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := eventstore.StampMetadata(eventstore.Metadata{TenantID: "t", OccurredAt: c.in}, now)
			assert.Equal(t, c.want, got.OccurredAt)
			assert.Equal(t, time.UTC, got.OccurredAt.Location())
			assert.Equal(t, "t", got.TenantID)
		})
	}
}

func TestWakerCoalescesAndForgetsEndedReaders(t *testing.T) {
	t.Parallel()
	var w eventstore.Waker
	ctx, cancel := context.WithCancel(context.Background())
	ch := w.Register(ctx)
	w.Signal()
	w.Signal()
	assert.Len(t, ch, 1, "two signals, one pending wake-up")
	<-ch
	cancel()
	assert.Eventually(t, func() bool {
		w.Signal()
		select {
		case <-ch:
			return false // still registered
		default:
			return true
		}
	}, time.Second, 5*time.Millisecond, "an ended reader is no longer signalled")
}
