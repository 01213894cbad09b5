package eventstore

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ValidateAppend checks what every adapter refuses before writing anything:
// an empty stream id, no events, an expected version below Any, an event
// without id or type, one id twice, or events of several tenants. The error
// wraps ErrInvalidAppend.
func ValidateAppend(stream string, expected int64, events []EventData) error {
	if stream == "" {
		return fmt.Errorf("append: empty stream id: %w", ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("append to %s: no events: %w", stream, ErrInvalidAppend)
	}
	if expected < Any {
		return fmt.Errorf("append to %s: expected version %d: %w", stream, expected, ErrInvalidAppend)
	}
	tenant := events[0].Metadata.TenantID
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i, ev := range events {
		if ev.ID == uuid.Nil || ev.Type == "" {
			return fmt.Errorf("append to %s: event %d lacks id or type: %w", stream, i, ErrInvalidAppend)
		}
		if _, dup := seen[ev.ID]; dup {
			return fmt.Errorf("append to %s: event id %s twice: %w", stream, ev.ID, ErrInvalidAppend)
		}
		seen[ev.ID] = struct{}{}
		if ev.Metadata.TenantID != tenant {
			return fmt.Errorf("append to %s: events of one append span tenants: %w", stream, ErrInvalidAppend)
		}
	}
	return nil
}

// StampMetadata returns m as adapters store it: OccurredAt defaults to now
// and is normalised (UTC, microseconds).
func StampMetadata(m Metadata, now time.Time) Metadata {
	if m.OccurredAt.IsZero() {
		m.OccurredAt = now
	}
	m.OccurredAt = NormalizeTime(m.OccurredAt)
	return m
}
