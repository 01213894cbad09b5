package user_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/user"
)

func fold(events ...domain.Event) user.State {
	var s user.State
	for _, ev := range events {
		s = user.Evolve(s, ev)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

var created = user.Created{
	UserID: "u1", TenantID: "t1", EncryptedEmail: "enc-email", EncryptedName: "enc-name",
	EmailIndex: "idx", Role: user.RoleUser, PasswordHash: "hash",
}

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	live := fold(created)
	withToken := fold(created, user.APITokenIssued{TokenID: "k1", Name: "ci", SecretHash: "h"})
	deleted := fold(created, user.Deleted{})
	disabled := fold(created, user.Updated{Disabled: ptr(true)})
	tests := []struct {
		name    string
		state   user.State
		cmd     user.Command
		want    []domain.Event
		wantErr error
	}{
		{"create", user.State{}, user.Create{UserID: "u1", TenantID: "t1", EncryptedEmail: "enc-email",
			EncryptedName: "enc-name", EmailIndex: "idx", Role: user.RoleUser, PasswordHash: "hash"},
			[]domain.Event{created}, nil},
		{"create twice", live, user.Create{UserID: "u1"}, nil, user.ErrAlreadyExists},
		{"create with bad role", user.State{}, user.Create{UserID: "u1", TenantID: "t1", Role: "ROOT"}, nil, domain.ErrInvalid},
		{"create without password", user.State{}, user.Create{UserID: "u1", TenantID: "t1", EncryptedEmail: "e",
			EncryptedName: "n", EmailIndex: "i", Role: user.RoleUser}, nil, domain.ErrInvalid},
		{"update role", live, user.Update{Role: ptr(user.RoleAdmin)},
			[]domain.Event{user.Updated{Role: ptr(user.RoleAdmin)}}, nil},
		{"update without change", live, user.Update{Role: ptr(user.RoleUser), Disabled: ptr(false)}, nil, nil},
		{"update deleted", deleted, user.Update{Disabled: ptr(true)}, nil, user.ErrNotFound},
		{"update missing", user.State{}, user.Update{Disabled: ptr(true)}, nil, user.ErrNotFound},
		{"delete revokes tokens first", withToken, user.Delete{},
			[]domain.Event{user.APITokenRevoked{TokenID: "k1"}, user.Deleted{}}, nil},
		{"delete twice", deleted, user.Delete{}, nil, user.ErrNotFound},
		{"login ok", live, user.RecordLogin{PasswordOK: true, Method: "password"},
			[]domain.Event{user.LoggedIn{Method: "password"}}, nil},
		{"login wrong password", live, user.RecordLogin{Method: "password"},
			[]domain.Event{user.LoginFailed{Reason: user.ReasonInvalidPassword}}, nil},
		{"login disabled", disabled, user.RecordLogin{PasswordOK: true, Method: "password"},
			[]domain.Event{user.LoginFailed{Reason: user.ReasonDisabled}}, nil},
		{"login deleted", deleted, user.RecordLogin{PasswordOK: true}, nil, user.ErrNotFound},
		{"issue token", live, user.IssueAPIToken{TokenID: "k2", Name: " ci ", SecretHash: "h", Now: now},
			[]domain.Event{user.APITokenIssued{TokenID: "k2", Name: "ci", SecretHash: "h"}}, nil},
		{"issue token twice", withToken, user.IssueAPIToken{TokenID: "k1", Name: "ci", SecretHash: "h", Now: now}, nil, user.ErrTokenExists},
		{"issue token expired", live, user.IssueAPIToken{TokenID: "k2", Name: "ci", SecretHash: "h", Now: now,
			ExpiresAt: ptr(now.Add(-time.Second))}, nil, domain.ErrInvalid},
		{"issue token disabled", disabled, user.IssueAPIToken{TokenID: "k2", Name: "ci", SecretHash: "h", Now: now}, nil, user.ErrDisabled},
		{"revoke token", withToken, user.RevokeAPIToken{TokenID: "k1"}, []domain.Event{user.APITokenRevoked{TokenID: "k1"}}, nil},
		{"revoke token twice", fold(created, user.APITokenIssued{TokenID: "k1"}, user.APITokenRevoked{TokenID: "k1"}),
			user.RevokeAPIToken{TokenID: "k1"}, nil, nil},
		{"revoke unknown token", live, user.RevokeAPIToken{TokenID: "nope"}, nil, user.ErrTokenNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.Decide(tc.state, tc.cmd)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEvolveDoesNotShareTokens(t *testing.T) {
	t.Parallel()
	before := fold(created, user.APITokenIssued{TokenID: "k1"})
	after := user.Evolve(before, user.APITokenRevoked{TokenID: "k1"})
	assert.False(t, before.Tokens["k1"].Revoked, "the earlier state must not change")
	assert.True(t, after.Tokens["k1"].Revoked)
}

func TestActiveAdmin(t *testing.T) {
	t.Parallel()
	admin := fold(user.Created{UserID: "u1", Role: user.RoleAdmin})
	assert.True(t, admin.ActiveAdmin())
	assert.False(t, admin.WouldBeActiveAdmin(user.Update{Disabled: ptr(true)}))
	assert.False(t, admin.WouldBeActiveAdmin(user.Update{Role: ptr(user.RoleAuditor)}))
	assert.True(t, fold(created).WouldBeActiveAdmin(user.Update{Role: ptr(user.RoleAdmin)}))
	assert.False(t, fold(created, user.Deleted{}).ActiveAdmin())
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	events := []domain.Event{created, user.Updated{Disabled: ptr(true)}, user.Deleted{}, user.LoggedIn{Method: "password"},
		user.LoginFailed{Reason: "x"}, user.APITokenIssued{TokenID: "k"}, user.APITokenRevoked{TokenID: "k"}}
	for _, ev := range events {
		data, err := json.Marshal(ev)
		require.NoError(t, err)
		got, ok, err := user.Decode(ev.EventType(), ev.SchemaVersion(), data)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ev, got)
	}
	_, ok, err := user.Decode("other.type", 1, nil)
	assert.False(t, ok)
	assert.NoError(t, err)
	_, _, err = user.Decode(user.TypeCreated, 99, []byte(`{}`))
	assert.Error(t, err, "a newer schema version than the code knows is refused")
}

func TestValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"email ok", func() error { _, err := user.ValidateEmail(" ada@example.com "); return err }()},
		{"password ok", user.ValidatePassword("longenough")},
	}
	for _, tc := range tests {
		assert.NoError(t, tc.err, tc.name)
	}
	bad := []struct {
		name string
		err  error
	}{
		{"email without at", func() error { _, err := user.ValidateEmail("ada"); return err }()},
		{"email with display name", func() error { _, err := user.ValidateEmail("Ada <ada@example.com>"); return err }()},
		{"empty name", func() error { _, err := user.ValidateName("  "); return err }()},
		{"short password", user.ValidatePassword("short")},
		{"bad role", func() error { _, err := user.ParseRole("admin"); return err }()},
	}
	for _, tc := range bad {
		assert.ErrorIs(t, tc.err, domain.ErrInvalid, tc.name)
	}
	assert.Equal(t, "ada@example.com", user.NormalizeEmail(" Ada@Example.COM "))
}
