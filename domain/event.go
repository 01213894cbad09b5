package domain

import (
	"encoding/json"
	"fmt"
)

// Event is a fact an aggregate decided. Its JSON form is the event payload;
// its type and schema version travel next to it in the envelope.
type Event interface {
	// EventType is the stable name, e.g. "user.created".
	EventType() string
	// SchemaVersion is the version of the payload's shape, starting at 1.
	SchemaVersion() int
}

// Decoder turns a stored payload of one (type, version) into the current
// Event struct, upgrading older versions on the way (upcasting).
type Decoder func(version int, data []byte) (Event, error)

// Registry maps event types to their decoders.
type Registry map[string]Decoder

// Decode decodes a stored event; ok is false for types the registry does not know.
func (r Registry) Decode(eventType string, version int, data []byte) (ev Event, ok bool, err error) {
	dec, found := r[eventType]
	if !found {
		return nil, false, nil
	}
	ev, err = dec(version, data)
	if err != nil {
		return nil, true, fmt.Errorf("decode %s v%d: %w", eventType, version, err)
	}
	return ev, true, nil
}

// JSONDecoder decodes an event whose stored shape is the current one (or an
// older one that JSON decoding maps unchanged) into T. Versions above
// current are refused: they come from a newer release this code cannot read.
func JSONDecoder[T Event](current int) Decoder {
	return func(version int, data []byte) (Event, error) {
		if version > current {
			return nil, fmt.Errorf("schema version %d is newer than %d", version, current)
		}
		var v T
		if len(data) > 0 {
			if err := json.Unmarshal(data, &v); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
}
