package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/projections"
)

func connectionEvents(t *testing.T, f *idnFixture, tenantID, id string, events ...domain.Event) []eventstore.RecordedEvent {
	t.Helper()
	out := make([]eventstore.RecordedEvent, len(events))
	for i, ev := range events {
		out[i] = f.event(t, tenantID, connection.Stream(id), int64(i), ev)
	}
	return out
}

func TestConnectionsProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewConnectionsProjector()
	expiry := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	added := connection.OperationRef{Method: "GET", Path: "/pets/{id}", OperationID: "getPet"}
	events := connectionEvents(t, f, "t1", "c1",
		connection.Registered{ConnectionID: "c1", Name: "Pets", BaseURL: "https://pets.example/v1", DocumentURL: "https://pets.example/openapi.json"},
		connection.DocumentImported{DocumentHash: "d1", DocumentBytes: 1234, OpenAPIVersion: "3.0.3", Title: "Petstore",
			APIVersion: "1.0", OperationCount: 1, Warnings: []connection.Warning{{Code: "unsupported_feature", Message: "webhooks", Pointer: "/webhooks", Line: 9}}},
		connection.EndpointsDiscovered{DocumentHash: "d1", CatalogueHash: "c-1", OperationCount: 1},
		connection.CredentialsSet{Credentials: connection.Credentials{Type: "oauth2_authorization_code", Hint: "app:••••", KeyID: "k1",
			Public: map[string]string{"client_id": "app"}, Sealed: map[string]string{"client_secret": "SEALED-SECRET"}}},
		connection.OAuthTokensRefreshed{KeyID: "k2", ExpiresAt: &expiry, Sealed: map[string]string{"access_token": "SEALED-TOKEN"}},
		connection.Tested{Method: "GET", Path: "/pets", OK: true, Status: 200, DurationMS: 12},
		connection.DocumentImported{DocumentHash: "d2", OpenAPIVersion: "3.1.0", Title: "Petstore", OperationCount: 2},
		connection.EndpointsDiscovered{DocumentHash: "d2", CatalogueHash: "c-2", OperationCount: 2, Added: []connection.OperationRef{added}},
		connection.Updated{Name: new("Petstore")},
		connection.ReauthorizationRequired{Reason: "invalid_grant"},
	)
	f.apply(t, p, events...)
	f.apply(t, p, events...) // replays change nothing

	got, err := projections.GetConnection(ctx, f.pool, "t1", "c1")
	require.NoError(t, err)
	assert.Equal(t, "Petstore", got.Name)
	assert.Equal(t, "https://pets.example/v1", got.BaseURL)
	assert.Equal(t, "https://pets.example/openapi.json", got.DocumentURL)
	assert.Equal(t, connection.StatusNeedsReauthorization, got.Status)
	assert.Equal(t, projections.ConnectionAuthView{Type: "oauth2_authorization_code", Hint: "app:••••", KeyID: "k2",
		ExpiresAt: &expiry, Authorized: true}, got.Auth)
	assert.Equal(t, projections.ConnectionDocumentView{Hash: "d2", OpenAPIVersion: "3.1.0", Title: "Petstore",
		OperationCount: 2, Warnings: []connection.Warning{}, CatalogueHash: "c-2"}, got.Document,
		"a re-import replaces what the document says, warnings included")
	require.NotNil(t, got.LastImport)
	assert.Equal(t, []connection.OperationRef{added}, got.LastImport.Added)
	assert.Empty(t, got.LastImport.Removed)
	assert.Equal(t, f.base.Add(7*time.Minute), got.LastImport.At)
	require.NotNil(t, got.LastTest)
	assert.Equal(t, connection.Tested{Method: "GET", Path: "/pets", OK: true, Status: 200, DurationMS: 12}, got.LastTest.Tested)
	assert.Equal(t, f.base, got.CreatedAt)
	assert.Equal(t, f.base.Add(9*time.Minute), got.UpdatedAt)
	assert.Equal(t, int64(9), got.Version)

	var rows string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT string_agg(t::text, '') FROM rm_connections.connections t`).Scan(&rows))
	assert.NotContains(t, rows, "SEALED", "sealed credentials never reach the view")

	_, err = projections.GetConnection(ctx, f.pool, "t2", "c1")
	assert.ErrorIs(t, err, connection.ErrNotFound, "another tenant does not see it")

	more := []eventstore.RecordedEvent{
		f.event(t, "t1", connection.Stream("c1"), 10, connection.CredentialsRotated{Credentials: connection.Credentials{Type: "bearer", Hint: "ab…yz", KeyID: "k3"}}),
		f.event(t, "t1", connection.Stream("c1"), 11, connection.Disabled{Reason: "maintenance"}),
	}
	f.apply(t, p, more...)
	got, err = projections.GetConnection(ctx, f.pool, "t1", "c1")
	require.NoError(t, err)
	assert.Equal(t, connection.StatusDisabled, got.Status)
	assert.Equal(t, projections.ConnectionAuthView{Type: "bearer", Hint: "ab…yz", KeyID: "k3"}, got.Auth,
		"rotated credentials replace the old, tokens and re-authorisation included")

	f.apply(t, p, f.event(t, "t1", connection.Stream("c1"), 12, connection.Enabled{}))
	got, err = projections.GetConnection(ctx, f.pool, "t1", "c1")
	require.NoError(t, err)
	assert.Equal(t, connection.StatusActive, got.Status)

	f.apply(t, p, f.event(t, "t1", connection.Stream("c1"), 13, connection.Deleted{}))
	_, err = projections.GetConnection(ctx, f.pool, "t1", "c1")
	assert.ErrorIs(t, err, connection.ErrNotFound)
	page, err := projections.ListConnections(ctx, f.pool, "t1", projections.ListConnectionsOptions{})
	require.NoError(t, err)
	assert.Empty(t, page.Connections)
}

func TestListConnectionsPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewConnectionsProjector()
	var want []string
	for i := range 5 {
		id := string(rune('a' + i))
		want = append(want, id)
		reg := f.event(t, "t1", connection.Stream(id), 0, connection.Registered{ConnectionID: id, Name: id, BaseURL: "https://x.example"})
		reg.Metadata.OccurredAt = f.base.Add(time.Duration(i) * time.Second)
		f.apply(t, p, reg)
	}
	f.apply(t, p, f.event(t, "t2", connection.Stream("z"), 0, connection.Registered{ConnectionID: "z", Name: "z", BaseURL: "https://x.example"}))

	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page, err := projections.ListConnections(ctx, f.pool, "t1", projections.ListConnectionsOptions{Limit: 2, After: after})
		require.NoError(t, err)
		for _, c := range page.Connections {
			got = append(got, c.ID)
			assert.Equal(t, connection.StatusActive, c.Status)
			assert.Nil(t, c.LastImport)
			assert.Nil(t, c.LastTest)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.Equal(t, want, got, "every connection of the tenant once, in creation order")

	_, err := projections.ListConnections(ctx, f.pool, "t1", projections.ListConnectionsOptions{After: "not-a-cursor"})
	assert.ErrorIs(t, err, domain.ErrInvalid)
}
