// Package reservation is the aggregate behind a unique key (an email within a
// tenant, a tenant slug): one stream per key, so the event store's expected
// version check makes "reserve" win exactly once.
package reservation

import (
	"encoding/json"

	"github.com/apiq/apiq/domain"
)

// Event types.
const (
	TypeReserved = "reservation.reserved"
	TypeReleased = "reservation.released"
)

// Reserved records that the key now belongs to Owner.
type Reserved struct {
	Owner string `json:"owner"`
}

// Released records that Owner gave the key up.
type Released struct {
	Owner string `json:"owner"`
}

// EventType implements domain.Event.
func (Reserved) EventType() string { return TypeReserved }

// SchemaVersion implements domain.Event.
func (Reserved) SchemaVersion() int { return 1 }

// EventType implements domain.Event.
func (Released) EventType() string { return TypeReleased }

// SchemaVersion implements domain.Event.
func (Released) SchemaVersion() int { return 1 }

// State is who holds the key, if anyone.
type State struct {
	Owner string
	Held  bool
}

// Command is Reserve or Release.
type Command interface{ isReservationCommand() }

// Reserve claims the key for Owner.
type Reserve struct{ Owner string }

// Release gives the key up if Owner holds it.
type Release struct{ Owner string }

func (Reserve) isReservationCommand() {}
func (Release) isReservationCommand() {}

// ErrTaken is returned when another owner holds the key.
var ErrTaken = domain.NewError(domain.ErrConflict, "already_reserved", "the value is already in use")

// Decide reserves or releases the key. Reserving a key one already holds
// and releasing a key one does not hold decide nothing, so retries are harmless.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Reserve:
		if s.Held {
			if s.Owner == c.Owner {
				return nil, nil
			}
			return nil, ErrTaken
		}
		return []domain.Event{Reserved(c)}, nil
	case Release:
		if !s.Held || s.Owner != c.Owner {
			return nil, nil
		}
		return []domain.Event{Released(c)}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown reservation command")
}

// Evolve folds one event into the state.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Reserved:
		return State{Owner: e.Owner, Held: true}
	case Released:
		if s.Owner == e.Owner {
			return State{}
		}
	}
	return s
}

// Decode decodes a stored reservation event; ok is false for other types.
func Decode(eventType string, version int, data json.RawMessage) (domain.Event, bool, error) {
	return registry().Decode(eventType, version, data)
}

func registry() domain.Registry {
	return domain.Registry{
		TypeReserved: domain.JSONDecoder[Reserved](1),
		TypeReleased: domain.JSONDecoder[Released](1),
	}
}
