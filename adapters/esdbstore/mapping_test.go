package esdbstore

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/eventstore"
)

func TestExpectedRevision(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expected int64
		want     esdb.ExpectedRevision
	}{
		{eventstore.NoStream, esdb.NoStream{}},
		{eventstore.Any, esdb.Any{}},
		{0, esdb.Revision(0)},
		{41, esdb.Revision(41)},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, expectedRevision(c.expected), "expected version %d", c.expected)
	}
}

func TestParseActualRevision(t *testing.T) {
	t.Parallel()
	cases := []struct {
		msg    string
		want   int64
		wantOK bool
	}{
		{"[ErrorCodeWrongExpectedVersion] an append request failed the optimistic concurrency on the server: wrong expected version: expecting '3' but got '7'", 7, true},
		{"wrong expected version: expecting 'no_stream' but got '0'", 0, true},
		{"wrong expected version: expecting '0' but got 'no_stream'", eventstore.NoStream, true},
		{"wrong expected version: expecting 'any' but got 'something else'", 0, false},
		{"wrong expected version", 0, false},
	}
	for _, c := range cases {
		got, ok := parseActualRevision(c.msg)
		assert.Equal(t, c.wantOK, ok, c.msg)
		if c.wantOK {
			assert.Equal(t, c.want, got, c.msg)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{"valid", Config{URL: "esdb://127.0.0.1:2113?tls=false", ReconnectDelay: 1}, nil},
		{"everything wrong", Config{URL: "", ReconnectDelay: -1}, []string{"url: required", "reconnect delay"}},
		{"bad url", Config{URL: "http://x", ReconnectDelay: 1}, []string{"url:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			for _, want := range c.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
}

func TestRecordedDecodesTheEnvelope(t *testing.T) {
	t.Parallel()
	id := eventstore.EventID("t", "user-1", "r", 0)
	ev := &esdb.RecordedEvent{
		EventID: id, EventType: "UserRegistered", StreamID: "user-1", EventNumber: 4,
		Position: esdb.Position{Commit: 900, Prepare: 880}, Data: []byte(`{"a":1}`),
		UserMetadata: []byte(`{"tenant_id":"t","actor":{"subject":"u","role":"ADMIN"},"schema_version":2,"occurred_at":"2025-01-02T03:04:05.123456Z"}`),
	}
	got, err := recorded(ev)
	assert.NoError(t, err)
	assert.Equal(t, eventstore.Position{Commit: 900, Prepare: 880}, got.Position)
	assert.Equal(t, int64(4), got.Version)
	assert.Equal(t, "t", got.Metadata.TenantID)
	assert.Equal(t, "ADMIN", got.Metadata.Actor.Role)
	assert.Equal(t, 2, got.Metadata.SchemaVersion)

	ev.UserMetadata = []byte("not json")
	_, err = recorded(ev)
	assert.ErrorContains(t, err, "decode metadata")

	assert.True(t, isSystemEvent("$metadata"))
	assert.False(t, isSystemEvent("UserRegistered"))
}
