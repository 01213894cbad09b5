package projections

import (
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
)

// eventTime is when an event's change happened: the envelope's occurred_at,
// or the store's recording time for events without one.
func eventTime(ev eventstore.RecordedEvent) time.Time {
	if !ev.Metadata.OccurredAt.IsZero() {
		return ev.Metadata.OccurredAt
	}
	return ev.RecordedAt
}
