package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

// userRegistered's schema history: v1 {"name"}; v2 splits the name into
// {"first","last"}; v3 adds {"locale"}.
func userRegisteredUpcasters(t *testing.T) *eventstore.Upcasters {
	t.Helper()
	u, err := eventstore.NewUpcasters(
		eventstore.Upcaster{EventType: "UserRegistered", FromVersion: 2, Upcast: func(data json.RawMessage) (json.RawMessage, error) {
			var v map[string]any
			if err := json.Unmarshal(data, &v); err != nil {
				return nil, err
			}
			v["locale"] = "en"
			return json.Marshal(v)
		}},
		eventstore.Upcaster{EventType: "UserRegistered", FromVersion: 1, Upcast: func(data json.RawMessage) (json.RawMessage, error) {
			var v1 struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(data, &v1); err != nil {
				return nil, err
			}
			first, last, _ := strings.Cut(v1.Name, " ")
			return json.Marshal(map[string]string{"first": first, "last": last})
		}},
		eventstore.Upcaster{EventType: "Broken", FromVersion: 1, Upcast: func(json.RawMessage) (json.RawMessage, error) {
			return nil, errors.New("cannot read v1")
		}},
	)
	require.NoError(t, err)
	return u
}

func TestNewUpcastersRefusesBrokenChains(t *testing.T) {
	t.Parallel()
	noop := func(d json.RawMessage) (json.RawMessage, error) { return d, nil }
	cases := []struct {
		name    string
		steps   []eventstore.Upcaster
		wantErr []string
	}{
		{"unbroken chain", []eventstore.Upcaster{{"A", 1, noop}, {"A", 2, noop}, {"B", 4, noop}}, nil},
		{"gap", []eventstore.Upcaster{{"A", 1, noop}, {"A", 3, noop}}, []string{"no step from v2"}},
		{"twice", []eventstore.Upcaster{{"A", 1, noop}, {"A", 1, noop}}, []string{"registered twice"}},
		{"every problem at once", []eventstore.Upcaster{{"", 1, noop}, {"C", 1, nil}}, []string{"empty event type", "nil function"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := eventstore.NewUpcasters(c.steps...)
			if c.wantErr == nil {
				require.NoError(t, err)
				v, ok := u.CurrentVersion("A")
				assert.True(t, ok)
				assert.Equal(t, 3, v)
				return
			}
			require.Error(t, err)
			for _, want := range c.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestUpcast(t *testing.T) {
	t.Parallel()
	u := userRegisteredUpcasters(t)
	cases := []struct {
		name        string
		eventType   string
		version     int
		data        string
		wantData    string
		wantVersion int
		wantErr     string
	}{
		{"v1 through the whole chain", "UserRegistered", 1, `{"name":"Ada Lovelace"}`, `{"first":"Ada","last":"Lovelace","locale":"en"}`, 3, ""},
		{"v2 one step", "UserRegistered", 2, `{"first":"Alan","last":"Turing"}`, `{"first":"Alan","last":"Turing","locale":"en"}`, 3, ""},
		{"current unchanged", "UserRegistered", 3, `{"first":"G","last":"H","locale":"de"}`, `{"first":"G","last":"H","locale":"de"}`, 3, ""},
		{"type without upcasters unchanged", "TenantCreated", 1, `{"name":"Acme"}`, `{"name":"Acme"}`, 1, ""},
		{"older than the chain", "UserRegistered", 0, `{}`, "", 0, "no upcaster from v0"},
		{"failing step", "Broken", 1, `{}`, "", 0, "cannot read v1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := eventstore.RecordedEvent{Type: c.eventType, StreamID: "user-1", Data: json.RawMessage(c.data),
				Metadata: eventstore.Metadata{TenantID: "t", SchemaVersion: c.version}}
			got, err := u.Upcast(ev)
			if c.wantErr != "" {
				assert.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, c.wantData, string(got.Data))
			assert.Equal(t, c.wantVersion, got.Metadata.SchemaVersion)
			assert.Equal(t, "t", got.Metadata.TenantID, "the rest of the envelope is kept")
		})
	}
}

// TestUpcastingReadersSeeStoredOldEventsUpgraded stores a v1 event through
// the PostgreSQL adapter and reads it back through the decorators.
func TestUpcastingReadersSeeStoredOldEventsUpgraded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg, err := pgstore.New(pgtest.NewPool(t))
	require.NoError(t, err)
	u := userRegisteredUpcasters(t)
	store, feed := eventstore.UpcastStore(pg, u), eventstore.UpcastFeed(pg, u)

	old := eventstore.EventData{
		ID: eventstore.EventID("t", "user-1", "r1", 0), Type: "UserRegistered",
		Data:     json.RawMessage(`{"name":"Ada Lovelace"}`),
		Metadata: eventstore.Metadata{TenantID: "t", SchemaVersion: 1},
	}
	current := eventstore.EventData{
		ID: eventstore.EventID("t", "user-2", "r2", 0), Type: "UserRegistered",
		Data:     json.RawMessage(`{"first":"Grace","last":"Hopper","locale":"en-US"}`),
		Metadata: eventstore.Metadata{TenantID: "t", SchemaVersion: 3},
	}
	_, err = store.Append(ctx, "user-1", eventstore.NoStream, []eventstore.EventData{old})
	require.NoError(t, err)
	_, err = store.Append(ctx, "user-2", eventstore.NoStream, []eventstore.EventData{current})
	require.NoError(t, err)

	fromStream, err := store.ReadStream(ctx, "user-1", 0, 0)
	require.NoError(t, err)
	require.Len(t, fromStream, 1)
	// The feed shows both once no older transaction of the cluster is in flight.
	var fromFeed []eventstore.RecordedEvent
	require.Eventually(t, func() bool {
		fromFeed, err = feed.ReadAll(ctx, eventstore.Position{}, 10)
		return err == nil && len(fromFeed) == 2
	}, 10*time.Second, 20*time.Millisecond)

	for name, ev := range map[string]eventstore.RecordedEvent{"ReadStream": fromStream[0], "ReadAll": fromFeed[0]} {
		assert.JSONEq(t, `{"first":"Ada","last":"Lovelace","locale":"en"}`, string(ev.Data), name)
		assert.Equal(t, 3, ev.Metadata.SchemaVersion, name)
	}
	assert.JSONEq(t, string(current.Data), string(fromFeed[1].Data), "current events pass unchanged")

	raw, err := pg.ReadStream(ctx, "user-1", 0, 0)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Ada Lovelace"}`, string(raw[0].Data), "the stored event is never rewritten")
	assert.Equal(t, 1, raw[0].Metadata.SchemaVersion)

	head, err := feed.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, fromFeed[1].Position, head, "Head passes through")
}
