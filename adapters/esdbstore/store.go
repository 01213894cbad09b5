// Package esdbstore is the EventStoreDB event store adapter (for clusters):
// streams map 1:1 onto EventStoreDB streams, versions onto revisions, event
// ids onto EventStoreDB event ids (so a retried append is idempotent on the
// server), the envelope onto the event's user metadata (JSON), and the global
// feed onto $all without system events.
package esdbstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/apiq/apiq/adapters/eventstore"
)

// Config locates the EventStoreDB server and tunes the wake-up subscription.
type Config struct {
	// URL is the connection string, e.g. "esdb://127.0.0.1:2113?tls=false" (APIQ_ESDB_URL).
	URL string
	// ReconnectDelay is how long Listen waits before resubscribing after its
	// subscription drops (default 1 s).
	ReconnectDelay time.Duration
	// Logger receives subscription problems (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required (esdb://host:port?tls=false)"))
	} else if _, err := esdb.ParseConnectionString(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if c.ReconnectDelay <= 0 {
		errs = append(errs, fmt.Errorf("reconnect delay %s: must be positive", c.ReconnectDelay))
	}
	return errors.Join(errs...)
}

// Store is the EventStoreDB event store. It implements eventstore.Store and eventstore.Feed.
type Store struct {
	client *esdb.Client
	cfg    Config
	wake   eventstore.Waker
}

var (
	_ eventstore.Store = (*Store)(nil)
	_ eventstore.Feed  = (*Store)(nil)
)

// Dial opens a client on cfg.URL. The connection itself is made lazily by
// the client, on the first call.
func Dial(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("esdbstore config: %w", err)
	}
	conf, err := esdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("esdbstore: parse url: %w", err)
	}
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdbstore: open client: %w", err)
	}
	return &Store{client: client, cfg: cfg}, nil
}

// Close releases the client's connections.
func (s *Store) Close() error { return s.client.Close() }

// Append implements eventstore.Store with AppendToStream and the expected
// revision. Retrying an append with the same event ids and expected version
// is idempotent on the server.
func (s *Store) Append(ctx context.Context, stream string, expected int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	proposed := make([]esdb.EventData, len(events))
	now := time.Now()
	for i, ev := range events {
		meta, err := json.Marshal(eventstore.StampMetadata(ev.Metadata, now))
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: encode metadata: %w", stream, err)
		}
		data := []byte(ev.Data)
		if len(data) == 0 {
			data = []byte("{}")
		}
		proposed[i] = esdb.EventData{
			EventID: ev.ID, EventType: ev.Type, ContentType: esdb.ContentTypeJson, Data: data, Metadata: meta,
		}
	}
	res, err := s.client.AppendToStream(ctx, stream,
		esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, proposed...)
	if err != nil {
		return eventstore.AppendResult{}, s.appendError(ctx, stream, expected, err)
	}
	s.wake.Signal()
	return eventstore.AppendResult{
		NextExpectedVersion: int64(res.NextExpectedVersion),
		Position:            eventstore.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}, nil
}

// expectedRevision maps the port's expected version onto EventStoreDB's.
func expectedRevision(expected int64) esdb.ExpectedRevision {
	switch expected {
	case eventstore.NoStream:
		return esdb.NoStream{}
	case eventstore.Any:
		return esdb.Any{}
	default:
		return esdb.Revision(uint64(expected))
	}
}

func (s *Store) appendError(ctx context.Context, stream string, expected int64, err error) error {
	var esErr *esdb.Error
	if !errors.As(err, &esErr) || esErr.Code() != esdb.ErrorCodeWrongExpectedVersion {
		return fmt.Errorf("append to %s: %w", stream, err)
	}
	actual, ok := parseActualRevision(esErr.Error())
	if !ok {
		// The client reports the actual revision only in its message; when
		// that changes shape, ask the server.
		var lerr error
		if actual, lerr = s.lastRevision(ctx, stream); lerr != nil {
			return fmt.Errorf("append to %s: %w (actual version unknown: %v)", stream, eventstore.ErrWrongExpectedVersion, lerr)
		}
	}
	return &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
}

// actualRevision matches the client's "expecting 'X' but got 'Y'".
var actualRevision = regexp.MustCompile(`but got '([^']*)'`)

// parseActualRevision extracts the stream's actual revision from a
// wrong-expected-version error message (NoStream for "no_stream").
func parseActualRevision(msg string) (int64, bool) {
	m := actualRevision.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	if m[1] == "no_stream" {
		return eventstore.NoStream, true
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// lastRevision reads the stream's last revision (NoStream when it has none).
func (s *Store) lastRevision(ctx context.Context, stream string) (int64, error) {
	rs, err := s.client.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return 0, fmt.Errorf("read last revision of %s: %w", stream, err)
	}
	defer rs.Close()
	ev, err := rs.Recv()
	switch {
	case isNotFound(err), errors.Is(err, io.EOF):
		return eventstore.NoStream, nil
	case err != nil:
		return 0, fmt.Errorf("read last revision of %s: %w", stream, err)
	}
	return int64(ev.OriginalEvent().EventNumber), nil
}

func isNotFound(err error) bool {
	var esErr *esdb.Error
	return errors.As(err, &esErr) &&
		(esErr.Code() == esdb.ErrorCodeResourceNotFound || esErr.Code() == esdb.ErrorCodeStreamDeleted)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	from = max(from, 0)
	count := uint64(math.MaxInt64)
	if limit > 0 {
		count = uint64(limit)
	}
	rs, err := s.client.ReadStream(ctx, stream,
		esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(uint64(from))}, count)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		resolved, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if isNotFound(err) {
			return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		ev, err := recorded(resolved.OriginalEvent())
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		out = append(out, ev)
	}
}

// isSystemEvent reports EventStoreDB's own events ($-prefixed types), which
// the feed leaves out.
func isSystemEvent(eventType string) bool { return strings.HasPrefix(eventType, "$") }

// recorded converts an EventStoreDB event into the port's type.
func recorded(ev *esdb.RecordedEvent) (eventstore.RecordedEvent, error) {
	out := eventstore.RecordedEvent{
		ID:         ev.EventID,
		StreamID:   ev.StreamID,
		Version:    int64(ev.EventNumber),
		Position:   eventstore.Position{Commit: ev.Position.Commit, Prepare: ev.Position.Prepare},
		Type:       ev.EventType,
		Data:       json.RawMessage(ev.Data),
		RecordedAt: eventstore.NormalizeTime(ev.CreatedDate),
	}
	if len(ev.UserMetadata) > 0 {
		if err := json.Unmarshal(ev.UserMetadata, &out.Metadata); err != nil {
			return eventstore.RecordedEvent{}, fmt.Errorf("decode metadata of %s (%s@%d): %w", ev.EventID, ev.StreamID, ev.EventNumber, err)
		}
	}
	return out, nil
}
