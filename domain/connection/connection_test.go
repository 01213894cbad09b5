package connection_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

func fold(events ...domain.Event) connection.State {
	var s connection.State
	for _, ev := range events {
		s = connection.Evolve(s, ev)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

var (
	imported   = connection.DocumentImported{DocumentHash: "d1", OpenAPIVersion: "3.0.3", OperationCount: 2}
	discovered = connection.EndpointsDiscovered{DocumentHash: "d1", CatalogueHash: "c1", OperationCount: 2}
	registered = connection.Registered{ConnectionID: "c", Name: "Pets", BaseURL: "https://api.example.com/v1"}
	bearer     = connection.Credentials{Type: "bearer", Hint: "ab…yz", KeyID: "k1", Sealed: map[string]string{"token": "ct"}}
	authCode   = connection.Credentials{Type: connection.CredentialTypeOAuth2AuthorizationCode, KeyID: "k1",
		Public: map[string]string{"client_id": "app"}, Sealed: map[string]string{"client_secret": "cs"}}
	anonymous = connection.Credentials{Type: connection.CredentialTypeNone}
)

func TestDecide(t *testing.T) {
	t.Parallel()
	live := fold(registered, imported, discovered)
	withSecret := fold(registered, imported, discovered, connection.CredentialsSet{Credentials: bearer})
	withNone := fold(registered, imported, discovered, connection.CredentialsSet{Credentials: anonymous})
	disabled := fold(registered, imported, discovered, connection.Disabled{})
	deleted := fold(registered, imported, discovered, connection.Deleted{})
	oauth := fold(registered, imported, discovered, connection.CredentialsSet{Credentials: authCode})
	reimported := connection.DocumentImported{DocumentHash: "d2", OperationCount: 3}
	rediscovered := connection.EndpointsDiscovered{DocumentHash: "d2", CatalogueHash: "c2", OperationCount: 3,
		Added: []connection.OperationRef{{Method: "GET", Path: "/new", OperationID: "new"}}}
	tokens := connection.OAuthTokensRefreshed{KeyID: "k1", Sealed: map[string]string{"access_token": "at"}}
	elsewhere := "https://evil.example.net/v1"
	tested := connection.Tested{Method: "GET", Path: "/pets", OK: false, Status: 401}
	tests := []struct {
		name    string
		state   connection.State
		cmd     connection.Command
		want    []domain.Event
		wantErr error
	}{
		{"register", connection.State{}, connection.Register{ConnectionID: "c", Name: " Pets ", BaseURL: "HTTPS://API.example.com/v1/",
			Document: imported, Endpoints: discovered}, []domain.Event{registered, imported, discovered}, nil},
		{"register with credentials", connection.State{}, connection.Register{ConnectionID: "c", Name: "Pets",
			BaseURL: "https://api.example.com/v1", Document: imported, Endpoints: discovered, Credentials: &bearer},
			[]domain.Event{registered, imported, discovered, connection.CredentialsSet{Credentials: bearer}}, nil},
		{"register twice", live, connection.Register{ConnectionID: "c", Name: "Pets", BaseURL: "https://x.example",
			Document: imported, Endpoints: discovered}, nil, connection.ErrAlreadyExists},
		{"register without name", connection.State{}, connection.Register{ConnectionID: "c", Name: "  ",
			BaseURL: "https://x.example", Document: imported, Endpoints: discovered}, nil, domain.ErrInvalid},
		{"register with a relative base url", connection.State{}, connection.Register{ConnectionID: "c", Name: "P",
			BaseURL: "/api/v3", Document: imported, Endpoints: discovered}, nil, domain.ErrInvalid},
		{"register without catalogue", connection.State{}, connection.Register{ConnectionID: "c", Name: "P",
			BaseURL: "https://x.example", Document: imported}, nil, domain.ErrInvalid},
		{"rename", live, connection.Update{Name: ptr("Petstore")},
			[]domain.Event{connection.Updated{Name: ptr("Petstore")}}, nil},
		{"rename to the same", live, connection.Update{Name: ptr("Pets")}, nil, nil},
		{"move without credentials", live, connection.Update{BaseURL: ptr(elsewhere)},
			[]domain.Event{connection.Updated{BaseURL: ptr(elsewhere)}}, nil},
		{"move with credentials none", withNone, connection.Update{BaseURL: ptr(elsewhere)},
			[]domain.Event{connection.Updated{BaseURL: ptr(elsewhere)}}, nil},
		{"change path on the same host keeps credentials", withSecret,
			connection.Update{BaseURL: ptr("https://api.example.com:443/v2")},
			[]domain.Event{connection.Updated{BaseURL: ptr("https://api.example.com:443/v2")}}, nil},
		{"move secrets as USER", withSecret, connection.Update{BaseURL: ptr(elsewhere), Credentials: &bearer},
			nil, connection.ErrBaseURLChangeNeedsAdmin},
		{"move secrets as ADMIN without new credentials", withSecret, connection.Update{BaseURL: ptr(elsewhere), ByAdmin: true},
			nil, connection.ErrCredentialsRequired},
		{"downgrade to http is a move", withSecret, connection.Update{BaseURL: ptr("http://api.example.com/v1")},
			nil, connection.ErrBaseURLChangeNeedsAdmin},
		{"move secrets as ADMIN with new credentials", withSecret,
			connection.Update{BaseURL: ptr(elsewhere), Credentials: &bearer, ByAdmin: true},
			[]domain.Event{connection.Updated{BaseURL: ptr(elsewhere)}, connection.CredentialsSet{Credentials: bearer}}, nil},
		{"rotate", withSecret, connection.Update{Credentials: &bearer},
			[]domain.Event{connection.CredentialsRotated{Credentials: bearer}}, nil},
		{"first credentials", live, connection.Update{Credentials: &bearer},
			[]domain.Event{connection.CredentialsSet{Credentials: bearer}}, nil},
		{"update deleted", deleted, connection.Update{Name: ptr("x")}, nil, connection.ErrNotFound},
		{"reimport", live, connection.ImportDocument{Base: "c1", Document: reimported, Endpoints: rediscovered},
			[]domain.Event{reimported, rediscovered}, nil},
		{"reimport on a stale base", live, connection.ImportDocument{Base: "c0", Document: reimported, Endpoints: rediscovered},
			nil, connection.ErrConcurrentImport},
		{"test", live, connection.RecordTest{Result: tested}, []domain.Event{tested}, nil},
		{"test refused credentials", live, connection.RecordTest{Result: tested,
			Reauthorization: &connection.ReauthorizationRequired{Reason: "invalid_grant"}},
			[]domain.Event{tested, connection.ReauthorizationRequired{Reason: "invalid_grant"}}, nil},
		{"test disabled", disabled, connection.RecordTest{Result: tested}, nil, connection.ErrDisabled},
		{"tokens", oauth, connection.RecordTokens{Tokens: tokens}, []domain.Event{tokens}, nil},
		{"tokens for bearer", withSecret, connection.RecordTokens{Tokens: tokens}, nil, connection.ErrNotAuthorizationCode},
		{"disable", live, connection.Disable{Reason: "maintenance"}, []domain.Event{connection.Disabled{Reason: "maintenance"}}, nil},
		{"disable twice", disabled, connection.Disable{}, nil, nil},
		{"enable", disabled, connection.Enable{}, []domain.Event{connection.Enabled{}}, nil},
		{"enable active", live, connection.Enable{}, nil, nil},
		{"delete", live, connection.Delete{}, []domain.Event{connection.Deleted{}}, nil},
		{"delete twice", deleted, connection.Delete{}, nil, connection.ErrNotFound},
		{"delete missing", connection.State{}, connection.Delete{}, nil, connection.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connection.Decide(tt.state, tt.cmd)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEvolve(t *testing.T) {
	t.Parallel()
	expiry := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := fold(registered, imported, discovered, connection.CredentialsSet{Credentials: authCode})
	assert.Equal(t, connection.StatusActive, s.Status())
	assert.False(t, s.Authorized())

	s = connection.Evolve(s, connection.OAuthTokensRefreshed{KeyID: "k2", ExpiresAt: &expiry,
		Sealed: map[string]string{"access_token": "at", "refresh_token": "rt"}})
	assert.True(t, s.Authorized())
	assert.Equal(t, map[string]string{"client_secret": "cs", "access_token": "at", "refresh_token": "rt"}, s.Credentials.Sealed)
	assert.Equal(t, "k2", s.Credentials.KeyID)
	assert.Equal(t, map[string]string{"client_secret": "cs"}, authCode.Sealed, "folding never changes an event's maps")

	s = connection.Evolve(s, connection.ReauthorizationRequired{Reason: "invalid_grant"})
	assert.Equal(t, connection.StatusNeedsReauthorization, s.Status())
	s = connection.Evolve(s, connection.OAuthTokensRefreshed{KeyID: "k2", Sealed: map[string]string{"access_token": "at2"}})
	assert.Equal(t, connection.StatusActive, s.Status(), "fresh tokens end the re-authorisation")

	s = connection.Evolve(s, connection.Disabled{})
	assert.Equal(t, connection.StatusDisabled, s.Status())
	s = connection.Evolve(s, connection.Updated{Name: ptr("Renamed")})
	assert.Equal(t, "Renamed", s.Name)
	s = connection.Evolve(s, connection.Deleted{})
	assert.Equal(t, connection.StatusDeleted, s.Status())
	assert.False(t, s.Live())
	assert.Equal(t, "c2", fold(registered, connection.EndpointsDiscovered{CatalogueHash: "c2"}).CatalogueHash)
}

func TestValidateBaseURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://API.Example.com/v1/": "https://api.example.com/v1",
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
		" https://x.example/a/b ":     "https://x.example/a/b",
	} {
		got, err := connection.ValidateBaseURL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, got)
	}
	for _, raw := range []string{"", "/v1", "ftp://x.example", "https://user:pw@x.example", "https://x.example?q=1",
		"https://x.example#top", "https://", "mailto:a@b.c"} {
		_, err := connection.ValidateBaseURL(raw)
		assert.ErrorIs(t, err, domain.ErrInvalid, raw)
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	assert.True(t, connection.SameOrigin("https://a.example/v1", "https://A.example:443/v2"))
	assert.True(t, connection.SameOrigin("http://a.example", "http://a.example:80"))
	assert.False(t, connection.SameOrigin("https://a.example", "http://a.example"))
	assert.False(t, connection.SameOrigin("https://a.example", "https://a.example:8443"))
	assert.False(t, connection.SameOrigin("https://a.example", "https://b.example"))
}
