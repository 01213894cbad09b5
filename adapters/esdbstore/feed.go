package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/apiq/apiq/adapters/eventstore"
)

// feedBatch is how many $all records one read asks for beyond the caller's
// limit, to make up for system events that are filtered out.
const feedBatch = 64

// ReadAll implements eventstore.Feed over $all, forwards, without system
// events. EventStoreDB only ever shows committed events, in $all order, so
// nothing can commit later at an earlier position.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []eventstore.RecordedEvent
	cursor := after
	for {
		n, last, err := s.readAllPage(ctx, cursor, limit+feedBatch, func(ev *esdb.RecordedEvent) (bool, error) {
			if isSystemEvent(ev.EventType) {
				return true, nil
			}
			r, err := recorded(ev)
			if err != nil {
				return false, err
			}
			out = append(out, r)
			return len(out) < limit, nil
		})
		if err != nil {
			return nil, fmt.Errorf("read feed after %s: %w", after, err)
		}
		if len(out) >= limit || n < limit+feedBatch {
			return out, nil
		}
		cursor = last
	}
}

// readAllPage reads up to count $all records strictly after a position
// (EventStoreDB reads forwards from a position inclusively), handing each to
// visit until it returns false. It returns how many records it read and the
// position of the last one.
func (s *Store) readAllPage(ctx context.Context, after eventstore.Position, count int, visit func(*esdb.RecordedEvent) (bool, error)) (int, eventstore.Position, error) {
	var from esdb.AllPosition = esdb.Start{}
	if !after.IsZero() {
		from = esdb.Position{Commit: after.Commit, Prepare: after.Prepare}
	}
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: from}, uint64(count))
	if err != nil {
		return 0, after, err
	}
	defer rs.Close()
	n, last := 0, after
	for {
		resolved, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, last, nil
		}
		if err != nil {
			return n, last, err
		}
		n++
		ev := resolved.OriginalEvent()
		pos := eventstore.Position{Commit: ev.Position.Commit, Prepare: ev.Position.Prepare}
		if pos.Compare(after) <= 0 {
			continue
		}
		last = pos
		more, err := visit(ev)
		if err != nil {
			return n, last, err
		}
		if !more {
			// Stop early; count n as a full page so the caller does not
			// mistake it for the end of $all.
			return count, last, nil
		}
	}
}

// Head implements eventstore.Feed: the position of the last non-system
// event of $all (Position{} when there is none).
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var from esdb.AllPosition = esdb.End{}
	for {
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, feedBatch)
		if err != nil {
			return eventstore.Position{}, fmt.Errorf("read feed head: %w", err)
		}
		n := 0
		var oldest esdb.Position
		for {
			resolved, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return eventstore.Position{}, fmt.Errorf("read feed head: %w", err)
			}
			n++
			ev := resolved.OriginalEvent()
			if !isSystemEvent(ev.EventType) {
				rs.Close()
				return eventstore.Position{Commit: ev.Position.Commit, Prepare: ev.Position.Prepare}, nil
			}
			oldest = ev.Position
		}
		rs.Close()
		if n < feedBatch {
			return eventstore.Position{}, nil
		}
		// Should a backward read include its start position, the next page
		// repeats oldest, a system event, which is skipped again.
		from = oldest
	}
}

// Wake implements eventstore.Feed: it fires after appends through this
// store, and for every append to the server while Listen runs.
func (s *Store) Wake(ctx context.Context) <-chan struct{} { return s.wake.Register(ctx) }

// Signal wakes every feed reader of this store.
func (s *Store) Signal() { s.wake.Signal() }

// Listen keeps a SubscribeToAll subscription (from the end of $all, system
// events filtered out on the server) and wakes feed readers for every event
// it delivers, until ctx ends (then it returns nil). It resubscribes after a
// drop, waking readers once since events may have been missed meanwhile.
// Projectors still read through ReadAll and keep their checkpoints in
// PostgreSQL; the subscription only says when to read.
func (s *Store) Listen(ctx context.Context) error {
	for {
		if err := s.listenOnce(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "subscribe to $all for wake-ups", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.ReconnectDelay):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	sub, err := s.client.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   esdb.End{},
		Filter: esdb.ExcludeSystemEventsFilter(),
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Close()
	s.wake.Signal()
	for {
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			s.wake.Signal()
		case ev.SubscriptionDropped != nil:
			return fmt.Errorf("subscription dropped: %w", ev.SubscriptionDropped.Error)
		}
	}
}
