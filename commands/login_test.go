package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

func anonymous(req string) commands.Meta {
	return commands.Meta{RequestID: req, ClientIP: "203.0.113.9", UserAgent: "curl"}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	other := e.tenantWithAdmin(t, "other") // ada@example.com exists in both, same password
	users, err := projections.NewUsersProjector(e.vault)
	require.NoError(t, err)

	// Named tenant: found through the reservation stream, no read model needed.
	res, err := e.login.Handle(ctx, anonymous("l1"), commands.Login{Email: "ADA@example.com", Password: "correct horse battery", TenantID: acme.TenantID})
	require.NoError(t, err)
	assert.Equal(t, acme.AdminUserID, res.UserID)
	assert.Equal(t, "Bearer", res.TokenType)
	assert.Equal(t, authtoken.DefaultTTL, res.ExpiresIn)
	claims, err := e.signer.Verify(res.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, authtoken.Claims{UserID: acme.AdminUserID, TenantID: acme.TenantID, Role: "ADMIN", AuthMethod: "password",
		ID: claims.ID, IssuedAt: claims.IssuedAt, ExpiresAt: claims.ExpiresAt}, claims)
	evs := e.stream(t, user.Stream(acme.AdminUserID))
	last := evs[len(evs)-1]
	assert.Equal(t, user.TypeLoggedIn, last.Type)
	assert.Equal(t, acme.AdminUserID, last.Metadata.Actor.Subject)
	assert.Equal(t, "203.0.113.9", last.Metadata.ClientIP)

	// Without a tenant the read model finds the candidates: both tenants match.
	e.project(t, users)
	_, err = e.login.Handle(ctx, anonymous("l2"), commands.Login{Email: "ada@example.com", Password: "correct horse battery"})
	assert.ErrorIs(t, err, commands.ErrTenantRequired)

	bob, err := e.createUser.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "bob"), commands.CreateUser{
		Email: "bob@example.com", Name: "Bob", Password: "bobs password", Role: user.RoleAuditor,
	})
	require.NoError(t, err)
	e.project(t, users)
	res, err = e.login.Handle(ctx, anonymous("l3"), commands.Login{Email: "bob@example.com", Password: "bobs password"})
	require.NoError(t, err)
	assert.Equal(t, bob.UserID, res.UserID)
	assert.Equal(t, other.TenantID, res.TenantID)
	assert.Equal(t, user.RoleAuditor, res.Role)

	// Wrong password: recorded on the user's stream, without an authenticated actor.
	_, err = e.login.Handle(ctx, anonymous("l4"), commands.Login{Email: "bob@example.com", Password: "wrong password"})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
	evs = e.stream(t, user.Stream(bob.UserID))
	last = evs[len(evs)-1]
	require.Equal(t, user.TypeLoginFailed, last.Type)
	assert.Equal(t, user.ReasonInvalidPassword, mustDecode[user.LoginFailed](t, last.Data).Reason)
	assert.Empty(t, last.Metadata.Actor.Subject)

	// Unknown email: recorded on the security stream with a blind index only.
	_, err = e.login.Handle(ctx, anonymous("l5"), commands.Login{Email: "nobody@example.com", Password: "whatever", TenantID: acme.TenantID})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
	sec := e.stream(t, security.Stream(acme.TenantID))
	require.Equal(t, []string{security.TypeLoginFailed}, types(sec))
	assert.NotContains(t, string(sec[0].Data), "nobody")
	assert.Equal(t, e.vault.BlindIndex(acme.TenantID, "nobody@example.com"), mustDecode[security.LoginFailed](t, sec[0].Data).EmailIndex)
	_, err = e.login.Handle(ctx, anonymous("l6"), commands.Login{Email: "nobody@example.com", Password: "whatever"})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
	assert.Len(t, e.stream(t, security.Stream("")), 1)

	// Disabled: the right password is refused and recorded as such.
	_, err = e.updateUser.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "disable-bob"), commands.UpdateUser{UserID: bob.UserID, Disabled: ptr(true)})
	require.NoError(t, err)
	_, err = e.login.Handle(ctx, anonymous("l7"), commands.Login{Email: "bob@example.com", Password: "bobs password", TenantID: other.TenantID})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
	evs = e.stream(t, user.Stream(bob.UserID))
	assert.Equal(t, user.ReasonDisabled, mustDecode[user.LoginFailed](t, evs[len(evs)-1].Data).Reason)

	// A retried login appends nothing new and still answers.
	before := e.eventCount(t)
	res, err = e.login.Handle(ctx, anonymous("l1"), commands.Login{Email: "ada@example.com", Password: "correct horse battery", TenantID: acme.TenantID})
	require.NoError(t, err)
	assert.NotEmpty(t, res.AccessToken)
	assert.Equal(t, before, e.eventCount(t))

	_, err = e.login.Handle(ctx, anonymous("l8"), commands.Login{Email: "not an email", Password: "x"})
	assert.ErrorIs(t, err, user.ErrInvalidCredentials)
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	acme := e.tenantWithAdmin(t, "acme")
	meta := func(req string) commands.Meta { return adminOf(acme.TenantID, acme.AdminUserID, req) }
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)

	issued, err := e.issueToken.Handle(ctx, meta("tok-1"), commands.IssueAPIToken{Name: "deploy bot", ExpiresAt: &expires})
	require.NoError(t, err)
	assert.Equal(t, acme.AdminUserID, issued.UserID, "the caller's own token by default")
	parsed, err := authtoken.ParseAPIToken(issued.Token)
	require.NoError(t, err)
	assert.Equal(t, issued.TokenID, parsed.ID)
	evs := e.stream(t, user.Stream(acme.AdminUserID))
	last := evs[len(evs)-1]
	require.Equal(t, user.TypeAPITokenIssued, last.Type)
	assert.NotContains(t, string(last.Data), parsed.Secret, "the secret is never recorded")
	stored := mustDecode[user.APITokenIssued](t, last.Data)
	assert.Equal(t, parsed.SecretHash(), stored.SecretHash)
	assert.Equal(t, expires, stored.ExpiresAt.UTC())

	_, err = e.issueToken.Handle(ctx, meta("tok-1"), commands.IssueAPIToken{Name: "deploy bot"})
	assert.ErrorIs(t, err, commands.ErrTokenAlreadyIssued, "a retry cannot show the secret again")
	_, err = e.issueToken.Handle(ctx, meta("tok-x"), commands.IssueAPIToken{UserID: "no-such-user", Name: "x"})
	assert.ErrorIs(t, err, user.ErrNotFound)

	tokens := projections.NewAPITokensProjector()
	e.project(t, tokens)
	view, err := projections.AuthenticateAPIToken(ctx, e.pool, issued.Token, time.Now())
	require.NoError(t, err)
	assert.Equal(t, acme.TenantID, view.TenantID)

	// Revoke by id alone: the owner is found through the read model.
	rev, err := e.revokeToken.Handle(ctx, meta("revoke-1"), commands.RevokeAPIToken{TokenID: issued.TokenID})
	require.NoError(t, err)
	assert.False(t, rev.Position.IsZero())
	before := e.eventCount(t)
	_, err = e.revokeToken.Handle(ctx, meta("revoke-2"), commands.RevokeAPIToken{TokenID: issued.TokenID, UserID: acme.AdminUserID})
	require.NoError(t, err)
	assert.Equal(t, before, e.eventCount(t), "revoking a revoked token records nothing")
	_, err = e.revokeToken.Handle(ctx, meta("revoke-3"), commands.RevokeAPIToken{TokenID: "00000000-0000-0000-0000-000000000000"})
	assert.ErrorIs(t, err, user.ErrTokenNotFound)

	other := e.tenantWithAdmin(t, "other")
	_, err = e.revokeToken.Handle(ctx, adminOf(other.TenantID, other.AdminUserID, "r"), commands.RevokeAPIToken{TokenID: issued.TokenID, UserID: acme.AdminUserID})
	assert.ErrorIs(t, err, user.ErrTokenNotFound, "another tenant cannot revoke it")

	e.project(t, tokens)
	_, err = projections.AuthenticateAPIToken(ctx, e.pool, issued.Token, time.Now())
	assert.ErrorIs(t, err, projections.ErrAPITokenRejected)
}

func TestRecordAccessDenied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	meta := commands.Meta{TenantID: "t1", RequestID: "denied-1",
		Actor: eventstore.Actor{Subject: "u1", Role: "USER", AuthMethod: "api_token", TokenID: "k1"}}
	res, err := e.denied.Handle(ctx, meta, commands.RecordAccessDenied{Method: "GET", Route: "/v1/users", Reason: "role USER not allowed"})
	require.NoError(t, err)
	again, err := e.denied.Handle(ctx, meta, commands.RecordAccessDenied{Method: "GET", Route: "/v1/users", Reason: "role USER not allowed"})
	require.NoError(t, err)
	assert.Equal(t, res, again)
	evs := e.stream(t, security.Stream("t1"))
	require.Len(t, evs, 1, "a retried record appends nothing new")
	assert.Equal(t, security.AccessDenied{Method: "GET", Route: "/v1/users", Reason: "role USER not allowed"},
		mustDecode[security.AccessDenied](t, evs[0].Data))
	assert.Equal(t, "k1", evs[0].Metadata.Actor.TokenID)
	_, err = e.denied.Handle(ctx, meta, commands.RecordAccessDenied{})
	assert.ErrorIs(t, err, domain.ErrInvalid)
}

func TestHandlersAreObserved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	var observed []string
	deps := e.deps
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	deps.Observe = func(name string, took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, name)
		assert.Positive(t, took)
	}
	h, err := commands.NewCreateTenantHandler(deps)
	require.NoError(t, err)
	_, err = h.Handle(ctx, system("observed"), commands.CreateTenant{
		Name: "Acme", Slug: "acme", AdminEmail: "ada@example.com", AdminName: "Ada", AdminPassword: "secret password 1",
	})
	require.NoError(t, err)
	_, err = h.Handle(ctx, system("observed-2"), commands.CreateTenant{Name: "Acme", Slug: "acme", AdminEmail: "x"})
	require.Error(t, err)
	assert.Equal(t, []string{"CreateTenant", "CreateTenant"}, observed)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &entry))
	assert.Equal(t, "CreateTenant", entry["command"])
	assert.Equal(t, "observed", entry["request_id"])
	assert.Contains(t, lines[1], `"error":`)
	assert.Contains(t, lines[1], `"level":"INFO"`, "a refusal by the rules is not an operational error")
	assert.NotContains(t, logs.String(), "secret password", "payloads are never logged")
	assert.NotContains(t, logs.String(), "ada@example.com")
}

func TestConstructorsListMissingDeps(t *testing.T) {
	t.Parallel()
	_, err := commands.NewLoginHandler(commands.Deps{})
	require.Error(t, err)
	for _, dep := range []string{"Store", "Vault", "Passwords", "Tokens", "Directory"} {
		assert.Contains(t, err.Error(), dep)
	}
	_, err = commands.NewRecordAccessDeniedHandler(commands.Deps{})
	assert.ErrorContains(t, err, "Store")
}
