// Package eventstore is the event store port: the append/read contract that
// every adapter (PostgreSQL, EventStoreDB) implements, with the sentinel errors
// and value types they share.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Expected-version sentinels for Append. Stream versions are 0-based, so a
// stream holding one event is at version 0; they map 1:1 onto EventStoreDB
// revisions.
const (
	// NoStream expects the stream not to exist yet.
	NoStream int64 = -1
	// Any skips the optimistic concurrency check.
	Any int64 = -2
)

// ErrWrongExpectedVersion is matched (errors.Is) by every *WrongExpectedVersionError.
var ErrWrongExpectedVersion = errors.New("wrong expected version")

// ErrStreamNotFound is returned when reading a stream that has no events.
var ErrStreamNotFound = errors.New("stream not found")

// ErrInvalidAppend is returned for appends the store refuses outright
// (no events, an empty stream id, an append that is not the first write of
// its transaction, event ids reused across streams).
var ErrInvalidAppend = errors.New("invalid append")

// WrongExpectedVersionError carries the details of an optimistic concurrency conflict.
type WrongExpectedVersionError struct {
	Stream   string
	Expected int64
	Actual   int64 // NoStream when the stream does not exist
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("append to %s: expected version %d, actual %d: %v",
		e.Stream, e.Expected, e.Actual, ErrWrongExpectedVersion)
}

// Is makes errors.Is(err, ErrWrongExpectedVersion) hold.
func (e *WrongExpectedVersionError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// Actor is who caused an event and how they authenticated.
type Actor struct {
	Subject string `json:"subject,omitempty"` // user id, or "system"
	Role    string `json:"role,omitempty"`    // USER, ADMIN, AUDITOR, SYSTEM
	// AuthMethod is how the actor authenticated: password, api_token, sso, system.
	AuthMethod string `json:"auth_method,omitempty"`
	TokenID    string `json:"token_id,omitempty"`    // API token id, for api_token
	SSOIssuer  string `json:"sso_issuer,omitempty"`  // for sso
	SSOSubject string `json:"sso_subject,omitempty"` // for sso
}

// Metadata is the envelope every event carries; it is the audit evidence.
type Metadata struct {
	TenantID      string    `json:"tenant_id"`
	Actor         Actor     `json:"actor"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	RequestID     string    `json:"request_id,omitempty"`
	ClientIP      string    `json:"client_ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	SchemaVersion int       `json:"schema_version"`
	OccurredAt    time.Time `json:"occurred_at"`
}

// EventData is an event to append.
type EventData struct {
	// ID identifies the event; derive it with EventID so a retried request
	// appends idempotently.
	ID       uuid.UUID
	Type     string
	Data     json.RawMessage
	Metadata Metadata
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID         uuid.UUID
	StreamID   string
	Version    int64
	Position   Position
	Type       string
	Data       json.RawMessage
	Metadata   Metadata
	RecordedAt time.Time
}

// AppendResult reports where an append landed.
type AppendResult struct {
	// NextExpectedVersion is the stream version after the append (the version
	// of its last event): pass it as expected version to append again.
	NextExpectedVersion int64
	// Position is the global position of the last appended event.
	Position Position
}

// Store appends to and reads from streams. One append touches one stream.
type Store interface {
	// Append writes events to stream if its current version equals expected
	// (or expected is Any). Re-appending events whose ids are already stored in
	// that stream succeeds without writing (idempotent retry).
	Append(ctx context.Context, stream string, expected int64, events []EventData) (AppendResult, error)
	// ReadStream returns up to limit events of stream from version from on
	// (limit <= 0: all). ErrStreamNotFound when the stream has no events.
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]RecordedEvent, error)
}

// Feed is the global, ordered, gap-free sequence of all events, read by projectors.
type Feed interface {
	// ReadAll returns up to limit events strictly after the position, in feed order.
	// It never returns an event while an earlier one in feed order may still commit.
	ReadAll(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)
	// Head returns the position of the last event currently readable in the feed
	// (Position{} when empty), for lag metrics.
	Head(ctx context.Context) (Position, error)
	// Wake registers a reader and returns its channel, which receives
	// (coalesced) whenever new events may have become readable, until ctx ends.
	// Readers still poll as a fallback.
	Wake(ctx context.Context) <-chan struct{}
}
