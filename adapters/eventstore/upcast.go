package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// UpcastFunc upgrades an event's data by exactly one schema version.
type UpcastFunc func(data json.RawMessage) (json.RawMessage, error)

// Upcaster upgrades events of one type from one schema version to the next.
type Upcaster struct {
	EventType   string
	FromVersion int
	Upcast      UpcastFunc
}

type upcastKey struct {
	eventType string
	from      int
}

// Upcasters upgrades old versions of events to their current version as they
// are read; stored events are never rewritten. It is immutable once built, so
// any number of readers may share it.
type Upcasters struct {
	steps   map[upcastKey]UpcastFunc
	current map[string]int
}

// NewUpcasters builds a registry from its steps. Each event type's steps must
// form an unbroken chain (from v, v+1, ... up to its current version, which
// is the last step's FromVersion+1); every problem found is reported.
func NewUpcasters(steps ...Upcaster) (*Upcasters, error) {
	u := &Upcasters{steps: map[upcastKey]UpcastFunc{}, current: map[string]int{}}
	lowest := map[string]int{}
	var errs []error
	for i, s := range steps {
		switch {
		case s.EventType == "":
			errs = append(errs, fmt.Errorf("upcaster %d: empty event type", i))
			continue
		case s.Upcast == nil:
			errs = append(errs, fmt.Errorf("upcaster %s v%d: nil function", s.EventType, s.FromVersion))
			continue
		}
		key := upcastKey{s.EventType, s.FromVersion}
		if _, dup := u.steps[key]; dup {
			errs = append(errs, fmt.Errorf("upcaster %s v%d: registered twice", s.EventType, s.FromVersion))
			continue
		}
		u.steps[key] = s.Upcast
		if cur, ok := u.current[s.EventType]; !ok || s.FromVersion+1 > cur {
			u.current[s.EventType] = s.FromVersion + 1
		}
		if low, ok := lowest[s.EventType]; !ok || s.FromVersion < low {
			lowest[s.EventType] = s.FromVersion
		}
	}
	types := make([]string, 0, len(lowest))
	for t := range lowest {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		for v := lowest[t]; v < u.current[t]; v++ {
			if _, ok := u.steps[upcastKey{t, v}]; !ok {
				errs = append(errs, fmt.Errorf("upcasters of %s: no step from v%d (chain v%d..v%d)", t, v, lowest[t], u.current[t]))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build upcasters: %w", err)
	}
	return u, nil
}

// CurrentVersion returns the schema version events of eventType are upgraded
// to, and false when no upcaster is registered for that type.
func (u *Upcasters) CurrentVersion(eventType string) (int, bool) {
	v, ok := u.current[eventType]
	return v, ok
}

// Upcast returns ev upgraded to its type's current version, with
// Metadata.SchemaVersion set accordingly. Events of types without upcasters,
// or already current, are returned unchanged. An event older than its
// chain's first step cannot be upgraded and is an error.
func (u *Upcasters) Upcast(ev RecordedEvent) (RecordedEvent, error) {
	current, ok := u.current[ev.Type]
	if !ok || ev.Metadata.SchemaVersion >= current {
		return ev, nil
	}
	data := ev.Data
	for v := ev.Metadata.SchemaVersion; v < current; v++ {
		step, ok := u.steps[upcastKey{ev.Type, v}]
		if !ok {
			return RecordedEvent{}, fmt.Errorf("upcast %s %s (%s@%d) from v%d: no upcaster from v%d",
				ev.Type, ev.ID, ev.StreamID, ev.Version, ev.Metadata.SchemaVersion, v)
		}
		next, err := step(data)
		if err != nil {
			return RecordedEvent{}, fmt.Errorf("upcast %s %s (%s@%d) from v%d: %w",
				ev.Type, ev.ID, ev.StreamID, ev.Version, v, err)
		}
		data = next
	}
	ev.Data = data
	ev.Metadata.SchemaVersion = current
	return ev, nil
}

func (u *Upcasters) upcastAll(events []RecordedEvent) ([]RecordedEvent, error) {
	for i := range events {
		up, err := u.Upcast(events[i])
		if err != nil {
			return nil, err
		}
		events[i] = up
	}
	return events, nil
}

// UpcastStore wraps store so that ReadStream returns upgraded events.
func UpcastStore(store Store, u *Upcasters) Store { return upcastingStore{store: store, u: u} }

// UpcastFeed wraps feed so that ReadAll returns upgraded events.
func UpcastFeed(feed Feed, u *Upcasters) Feed { return upcastingFeed{feed: feed, u: u} }

type upcastingStore struct {
	store Store
	u     *Upcasters
}

func (s upcastingStore) Append(ctx context.Context, stream string, expected int64, events []EventData) (AppendResult, error) {
	return s.store.Append(ctx, stream, expected, events)
}

func (s upcastingStore) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]RecordedEvent, error) {
	events, err := s.store.ReadStream(ctx, stream, from, limit)
	if err != nil {
		return nil, err
	}
	events, err = s.u.upcastAll(events)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return events, nil
}

type upcastingFeed struct {
	feed Feed
	u    *Upcasters
}

func (f upcastingFeed) ReadAll(ctx context.Context, after Position, limit int) ([]RecordedEvent, error) {
	events, err := f.feed.ReadAll(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	events, err = f.u.upcastAll(events)
	if err != nil {
		return nil, fmt.Errorf("read feed after %s: %w", after, err)
	}
	return events, nil
}

func (f upcastingFeed) Head(ctx context.Context) (Position, error) { return f.feed.Head(ctx) }

func (f upcastingFeed) Wake(ctx context.Context) <-chan struct{} { return f.feed.Wake(ctx) }
