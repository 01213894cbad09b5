package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// Bounds of replays and timelines.
const (
	// MaxReplayEvents is how many of the events that led to a state a replay
	// returns (the latest ones); older events are still folded.
	MaxReplayEvents = 1000
	// MaxTimelineEntries is how many entries a timeline returns.
	MaxTimelineEntries = 10000
	replayPage         = 1000
)

// ErrAuditStreamNotFound means the stream has no events of the caller's
// tenant (another tenant's stream is not found either).
var ErrAuditStreamNotFound = domain.NewError(domain.ErrNotFound, "stream_not_found", "stream not found")

// StreamReader reads one stream's events (the event store).
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error)
}

// ReplayPoint is the moment a replay stops at: a stream version, or a time
// (the events whose event time is at or before it). The zero value is the
// latest state.
type ReplayPoint struct {
	Version int64
	// HasVersion selects Version.
	HasVersion bool
	Time       time.Time
}

// ParseReplayPoint reads "at": empty (latest), a stream version (0, 1, …)
// or an RFC 3339 time.
func ParseReplayPoint(s string) (ReplayPoint, error) {
	if s == "" {
		return ReplayPoint{}, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 {
		return ReplayPoint{Version: v, HasVersion: true}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ReplayPoint{}, domain.Invalid("at", "invalid_replay_point", "at must be a stream version or an RFC 3339 time")
	}
	return ReplayPoint{Time: t}, nil
}

// includes reports whether an event belongs before the moment.
func (p ReplayPoint) includes(ev eventstore.RecordedEvent) bool {
	switch {
	case p.HasVersion:
		return ev.Version <= p.Version
	case !p.Time.IsZero():
		return !eventTime(ev).After(p.Time)
	}
	return true
}

// StreamReplay is a stream's state at a moment, folded from its events with
// the domain's Evolve, and the events that led there.
type StreamReplay struct {
	Stream       string
	ResourceType string
	ResourceID   string
	// Version is the last event folded; eventstore.NoStream when the
	// stream had no event yet at that moment.
	Version int64
	// At is the event time of that last event.
	At time.Time
	// State is the aggregate's state without secrets (TenantStateView,
	// UserStateView or ConnectionStateView); nil for streams of other kinds.
	State any
	// Events are the audit rows (without chain fields) of the events folded,
	// the latest MaxReplayEvents of EventCount.
	Events     []AuditRow
	EventCount int64
}

// ReplayStream folds a stream of the tenant up to the moment at.
func ReplayStream(ctx context.Context, store StreamReader, tenantID, stream string, at ReplayPoint) (StreamReplay, error) {
	resourceType, resourceID := SplitStream(stream)
	out := StreamReplay{Stream: stream, ResourceType: resourceType, ResourceID: resourceID, Version: eventstore.NoStream}
	fold := newReplayFolder(resourceType)
	err := readTenantStream(ctx, store, tenantID, stream, func(ev eventstore.RecordedEvent) (bool, error) {
		if !at.includes(ev) {
			return false, nil
		}
		if err := fold.apply(ev); err != nil {
			return false, fmt.Errorf("replay %s at version %d: %w", stream, ev.Version, err)
		}
		out.Version, out.At = ev.Version, eventTime(ev).UTC()
		out.EventCount++
		out.Events = append(out.Events, DeriveAuditRow(ev))
		if len(out.Events) > MaxReplayEvents {
			out.Events = append(out.Events[:0], out.Events[len(out.Events)-MaxReplayEvents:]...)
		}
		return true, nil
	})
	if err != nil {
		return StreamReplay{}, err
	}
	out.State = fold.view()
	return out, nil
}

// readTenantStream calls each with the stream's events in order until it
// returns false. A stream without events, or of another tenant, is
// ErrAuditStreamNotFound.
func readTenantStream(ctx context.Context, store StreamReader, tenantID, stream string,
	each func(eventstore.RecordedEvent) (bool, error)) error {
	var from int64
	for {
		events, err := store.ReadStream(ctx, stream, from, replayPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return ErrAuditStreamNotFound
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if from == 0 && (len(events) == 0 || events[0].Metadata.TenantID != tenantID) {
			return ErrAuditStreamNotFound
		}
		for _, ev := range events {
			if ev.Metadata.TenantID != tenantID {
				continue
			}
			more, err := each(ev)
			if err != nil || !more {
				return err
			}
		}
		if len(events) < replayPage {
			return nil
		}
		from = events[len(events)-1].Version + 1
	}
}

// replayFolder folds one kind of stream into a secret-free view.
type replayFolder interface {
	apply(ev eventstore.RecordedEvent) error
	view() any
}

func newReplayFolder(resourceType string) replayFolder {
	switch resourceType {
	case "tenant":
		return &folder[tenant.State]{decode: tenant.Decode, evolve: tenant.Evolve, render: tenantView}
	case "user":
		return &folder[user.State]{decode: user.Decode, evolve: user.Evolve, render: userView}
	case "connection":
		return &folder[connection.State]{decode: connection.Decode, evolve: connection.Evolve, render: connectionView}
	}
	return noFolder{}
}

// folder folds an aggregate's events with its Evolve.
type folder[S any] struct {
	state  S
	folded bool
	decode func(eventType string, version int, data json.RawMessage) (domain.Event, bool, error)
	evolve func(S, domain.Event) S
	render func(S) any
}

func (f *folder[S]) apply(ev eventstore.RecordedEvent) error {
	decoded, ok, err := f.decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	f.state, f.folded = f.evolve(f.state, decoded), true
	return nil
}

// view is nil when no event of the aggregate was folded (a reservation
// stream shares its category's prefix, e.g. "user-email-…").
func (f *folder[S]) view() any {
	if !f.folded {
		return nil
	}
	return f.render(f.state)
}

// noFolder keeps no state: streams of other kinds replay as events only.
type noFolder struct{}

func (noFolder) apply(eventstore.RecordedEvent) error { return nil }
func (noFolder) view() any                            { return nil }

// TenantStateView is a tenant's replayed state.
type TenantStateView struct {
	Kind       string   `json:"kind"`
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Slug       string   `json:"slug"`
	FirstAdmin string   `json:"first_admin,omitempty"`
	Admins     []string `json:"admins"`
}

func tenantView(s tenant.State) any {
	admins := make([]string, 0, len(s.Admins))
	for id := range s.Admins {
		admins = append(admins, id)
	}
	sort.Strings(admins)
	return TenantStateView{Kind: "tenant", ID: s.ID, Name: s.Name, Slug: s.Slug, FirstAdmin: s.Bootstrapped, Admins: admins}
}

// UserStateView is a user's replayed state, without its password hash or
// email index (its personal data is encrypted in the events and not shown).
type UserStateView struct {
	Kind     string           `json:"kind"`
	ID       string           `json:"id"`
	TenantID string           `json:"tenant_id"`
	Role     string           `json:"role"`
	Disabled bool             `json:"disabled"`
	Deleted  bool             `json:"deleted"`
	Tokens   []TokenStateView `json:"tokens"`
}

// TokenStateView is an API token as its user's stream knows it.
type TokenStateView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Revoked   bool       `json:"revoked"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func userView(s user.State) any {
	tokens := make([]TokenStateView, 0, len(s.Tokens))
	for id, t := range s.Tokens {
		tokens = append(tokens, TokenStateView{ID: id, Name: t.Name, Revoked: t.Revoked, ExpiresAt: utcPtr(t.ExpiresAt)})
	}
	sort.Slice(tokens, func(i, j int) bool { return tokens[i].ID < tokens[j].ID })
	return UserStateView{Kind: "user", ID: s.ID, TenantID: s.TenantID, Role: string(s.Role), Disabled: s.Disabled,
		Deleted: s.Deleted, Tokens: tokens}
}

// ConnectionStateView is a connection's replayed state; of its credentials
// only the type, hint, key id and expiry are shown.
type ConnectionStateView struct {
	Kind                 string               `json:"kind"`
	ID                   string               `json:"id"`
	Name                 string               `json:"name"`
	BaseURL              string               `json:"base_url"`
	DocumentURL          string               `json:"document_url,omitempty"`
	Status               string               `json:"status"`
	NeedsReauthorization bool                 `json:"needs_reauthorization"`
	DocumentHash         string               `json:"document_hash,omitempty"`
	CatalogueHash        string               `json:"catalogue_hash,omitempty"`
	OperationCount       int                  `json:"operation_count"`
	Credentials          *CredentialStateView `json:"credentials,omitempty"`
}

// CredentialStateView describes credentials without revealing them.
type CredentialStateView struct {
	Type      string     `json:"type"`
	Hint      string     `json:"hint,omitempty"`
	KeyID     string     `json:"key_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func connectionView(s connection.State) any {
	v := ConnectionStateView{Kind: "connection", ID: s.ID, Name: s.Name, BaseURL: screenString(s.BaseURL),
		DocumentURL: screenString(s.DocumentURL), Status: string(s.Status()), NeedsReauthorization: s.NeedsReauthorization,
		DocumentHash: s.DocumentHash, CatalogueHash: s.CatalogueHash, OperationCount: s.OperationCount}
	if c := s.Credentials; c.Type != "" {
		v.Credentials = &CredentialStateView{Type: c.Type, Hint: screenString(c.Hint), KeyID: c.KeyID, ExpiresAt: utcPtr(c.ExpiresAt)}
	}
	return v
}

// ExecutionStreamPrefix names execution streams: "execution-<id>".
const ExecutionStreamPrefix = "execution-"

// ExecutionTimeline is an execution's events step by step.
type ExecutionTimeline struct {
	ExecutionID string
	Stream      string
	StartedAt   time.Time
	EndedAt     time.Time
	// LastAction and Outcome are those of the latest event (an execution
	// that completed, failed or was cancelled ends with that event).
	LastAction string
	Outcome    string
	Entries    []TimelineEntry
	// Truncated is set when the execution has more than MaxTimelineEntries events.
	Truncated bool
}

// TimelineEntry is one event of an execution.
type TimelineEntry struct {
	AuditRow
	// Step is the event's step id ("step_id" or "step" in its data), if any.
	Step string
	// Elapsed is the time since the execution's first event.
	Elapsed time.Duration
}

// ReadExecutionTimeline reads the tenant's execution stream
// "execution-<id>" whatever its event types: ErrAuditStreamNotFound when
// it has no events (of this tenant).
func ReadExecutionTimeline(ctx context.Context, store StreamReader, tenantID, executionID string) (ExecutionTimeline, error) {
	if strings.TrimSpace(executionID) == "" {
		return ExecutionTimeline{}, ErrAuditStreamNotFound
	}
	out := ExecutionTimeline{ExecutionID: executionID, Stream: ExecutionStreamPrefix + executionID}
	err := readTenantStream(ctx, store, tenantID, out.Stream, func(ev eventstore.RecordedEvent) (bool, error) {
		at := eventTime(ev).UTC()
		if len(out.Entries) == 0 {
			out.StartedAt = at
		}
		if len(out.Entries) == MaxTimelineEntries {
			out.Truncated = true
			return false, nil
		}
		row := DeriveAuditRow(ev)
		out.Entries = append(out.Entries, TimelineEntry{AuditRow: row, Step: stepOf(ev.Data), Elapsed: at.Sub(out.StartedAt)})
		out.EndedAt, out.LastAction, out.Outcome = at, row.Action, row.Outcome
		return true, nil
	})
	if err != nil {
		return ExecutionTimeline{}, err
	}
	return out, nil
}

// stepOf finds an execution event's step id.
func stepOf(data json.RawMessage) string {
	var fields struct {
		StepID json.RawMessage `json:"step_id"`
		Step   json.RawMessage `json:"step"`
	}
	if json.Unmarshal(data, &fields) != nil {
		return ""
	}
	for _, raw := range []json.RawMessage{fields.StepID, fields.Step} {
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return bound(s, maxAuditField)
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil && n != "" {
			return n.String()
		}
	}
	return ""
}
