package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// aggregate says how to fold one kind of stream into its state.
type aggregate[S any] struct {
	decode func(eventType string, version int, data json.RawMessage) (domain.Event, bool, error)
	evolve func(S, domain.Event) S
}

func userAggregate() aggregate[user.State] {
	return aggregate[user.State]{decode: user.Decode, evolve: user.Evolve}
}

func tenantAggregate() aggregate[tenant.State] {
	return aggregate[tenant.State]{decode: tenant.Decode, evolve: tenant.Evolve}
}

func reservationAggregate() aggregate[reservation.State] {
	return aggregate[reservation.State]{decode: reservation.Decode, evolve: reservation.Evolve}
}

// loaded is a stream folded into its state.
type loaded[S any] struct {
	state    S
	version  int64               // eventstore.NoStream when the stream is empty
	last     eventstore.Position // of the stream's last event
	recorded []eventstore.RecordedEvent
}

func load[S any](ctx context.Context, store EventStore, stream string, agg aggregate[S]) (loaded[S], error) {
	out := loaded[S]{version: eventstore.NoStream}
	recorded, err := store.ReadStream(ctx, stream, 0, 0)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("load %s: %w", stream, err)
	}
	for _, rec := range recorded {
		ev, ok, err := agg.decode(rec.Type, rec.Metadata.SchemaVersion, rec.Data)
		if err != nil {
			return out, fmt.Errorf("load %s at version %d: %w", stream, rec.Version, err)
		}
		if ok {
			out.state = agg.evolve(out.state, ev)
		}
		out.version, out.last = rec.Version, rec.Position
	}
	out.recorded = recorded
	return out, nil
}

// outcome is what one change of one stream did.
type outcome[S any] struct {
	// State is the stream's state after the change.
	State S
	// Events were appended now or, when Replayed, by an earlier attempt of
	// the same request.
	Events   []domain.Event
	Replayed bool
	// Position is that of the last event appended (or replayed); when the
	// decision appended nothing, that of the stream's last event.
	Position eventstore.Position
}

// change loads a stream, decides, and appends with the loaded version as
// expected version, re-reading and deciding again on a conflict. A request
// whose events the stream already holds (a retry) decides nothing again.
func change[S any](ctx context.Context, d Deps, meta Meta, stream string, agg aggregate[S],
	decide func(S) ([]domain.Event, error)) (outcome[S], error) {
	for attempt := range d.MaxAttempts {
		if attempt > 0 {
			if err := pause(ctx, attempt); err != nil {
				return outcome[S]{}, err
			}
		}
		ls, err := load(ctx, d.Store, stream, agg)
		if err != nil {
			return outcome[S]{}, err
		}
		if prior, ok, err := replayed(ls, meta, stream, agg); err != nil || ok {
			return prior, err
		}
		events, err := decide(ls.state)
		if err != nil {
			return outcome[S]{State: ls.state}, err
		}
		if len(events) == 0 {
			return outcome[S]{State: ls.state, Position: ls.last}, nil
		}
		data, err := encode(meta, stream, events, d.Now())
		if err != nil {
			return outcome[S]{}, err
		}
		res, err := d.Store.Append(ctx, stream, ls.version, data)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			continue
		}
		if err != nil {
			return outcome[S]{}, fmt.Errorf("append to %s: %w", stream, err)
		}
		state := ls.state
		for _, ev := range events {
			state = agg.evolve(state, ev)
		}
		return outcome[S]{State: state, Events: events, Position: res.Position}, nil
	}
	return outcome[S]{}, fmt.Errorf("change %s after %d attempts: %w", stream, d.MaxAttempts, ErrConcurrentUpdate)
}

// replayed finds the events an earlier attempt of this request appended.
func replayed[S any](ls loaded[S], meta Meta, stream string, agg aggregate[S]) (outcome[S], bool, error) {
	next := meta.eventID(stream, 0)
	out := outcome[S]{State: ls.state, Replayed: true}
	found := 0
	for _, rec := range ls.recorded {
		if rec.ID != next {
			if found > 0 {
				break
			}
			continue
		}
		ev, ok, err := agg.decode(rec.Type, rec.Metadata.SchemaVersion, rec.Data)
		if err != nil {
			return out, true, fmt.Errorf("replay %s: %w", stream, err)
		}
		if ok {
			out.Events = append(out.Events, ev)
		}
		found++
		out.Position = rec.Position
		next = meta.eventID(stream, found)
	}
	return out, found > 0, nil
}

// appendAny appends events without a version check (streams nothing is
// decided from, such as a tenant's security stream); a retried request
// appends nothing new, since its event ids are already stored.
func appendAny(ctx context.Context, d Deps, meta Meta, stream string, events ...domain.Event) (eventstore.Position, error) {
	data, err := encode(meta, stream, events, d.Now())
	if err != nil {
		return eventstore.Position{}, err
	}
	res, err := d.Store.Append(ctx, stream, eventstore.Any, data)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("append to %s: %w", stream, err)
	}
	return res.Position, nil
}

func encode(meta Meta, stream string, events []domain.Event, now time.Time) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, len(events))
	for i, ev := range events {
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", ev.EventType(), err)
		}
		out[i] = eventstore.EventData{
			ID: meta.eventID(stream, i), Type: ev.EventType(), Data: data,
			Metadata: meta.metadata(ev.SchemaVersion(), now),
		}
	}
	return out, nil
}

// pause backs off before another attempt, with jitter so that competing
// writers spread out.
func pause(ctx context.Context, attempt int) error {
	d := time.Duration(attempt) * time.Millisecond * time.Duration(2+rand.IntN(8))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// later returns the later of two positions.
func later(a, b eventstore.Position) eventstore.Position {
	if b.Compare(a) > 0 {
		return b
	}
	return a
}
