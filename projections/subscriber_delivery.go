package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Message metadata keys set on every message a Subscriber delivers.
const (
	MetadataEventType = "event_type"
	MetadataStreamID  = "stream_id"
	MetadataVersion   = "stream_version"
	MetadataPosition  = "position"
)

// delivery is what a Subscriber hands the router with each message: the
// event and the open transaction to apply it through. The outcome
// middleware writes a failed attempt's error back, because a Nack carries no
// reason.
type delivery struct {
	event eventstore.RecordedEvent
	db    DB
	err   error
}

type deliveryKey struct{}

func withDelivery(ctx context.Context, d *delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

func deliveryFrom(ctx context.Context) (*delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(*delivery)
	return d, ok
}

// MessageDelivery returns the event a Subscriber's message carries and the
// transaction to apply it through; ok is false for other messages.
func MessageDelivery(msg *message.Message) (ev eventstore.RecordedEvent, db DB, ok bool) {
	d, ok := deliveryFrom(msg.Context())
	if !ok {
		return eventstore.RecordedEvent{}, nil, false
	}
	return d.event, d.db, true
}

// ApplyHandler is the router handler of projector p: it applies each
// delivered event through the subscriber's transaction.
func ApplyHandler(p Projector) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		ev, db, ok := MessageDelivery(msg)
		if !ok {
			return fmt.Errorf("projector %s: message %s carries no event delivery", p.Name(), msg.UUID)
		}
		if err := p.Apply(msg.Context(), db, ev); err != nil {
			return fmt.Errorf("projector %s: apply %s %s@%d: %w", p.Name(), ev.Type, ev.StreamID, ev.Version, err)
		}
		return nil
	}
}

// recordOutcome is the outermost router middleware: it keeps a failed
// attempt's error (including a recovered panic) with its delivery.
func recordOutcome(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil {
			if d, ok := deliveryFrom(msg.Context()); ok {
				d.err = err
			}
		}
		return out, err
	}
}

// newEventMessage wraps ev for the router.
func newEventMessage(ctx context.Context, d *delivery) *message.Message {
	ev := d.event
	msg := message.NewMessage(ev.ID.String(), message.Payload(ev.Data))
	msg.Metadata.Set(MetadataEventType, ev.Type)
	msg.Metadata.Set(MetadataStreamID, ev.StreamID)
	msg.Metadata.Set(MetadataVersion, strconv.FormatInt(ev.Version, 10))
	msg.Metadata.Set(MetadataPosition, ev.Position.String())
	msg.SetContext(withDelivery(ctx, d))
	return msg
}

// errNacked stands in for a handler error the router did not report through
// the outcome middleware (a router without it).
var errNacked = errors.New("handler nacked the event")
