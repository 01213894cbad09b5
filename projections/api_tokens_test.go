package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

func TestAPITokensProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewAPITokensProjector()
	userID := uuid.NewString()
	stream := user.Stream(userID)
	live, err := authtoken.NewAPIToken(uuid.NewString())
	require.NoError(t, err)
	expiring, err := authtoken.NewAPIToken(uuid.NewString())
	require.NoError(t, err)
	expiry := f.base.Add(time.Hour)
	issued := f.event(t, "t1", stream, 1, user.APITokenIssued{TokenID: live.ID, Name: "ci", SecretHash: live.SecretHash()})
	f.apply(t, p, issued, issued,
		f.event(t, "t1", stream, 2, user.APITokenIssued{TokenID: expiring.ID, Name: "short", SecretHash: expiring.SecretHash(), ExpiresAt: &expiry}),
		f.event(t, "t1", stream, 3, user.LoggedIn{Method: "password"}))

	got, err := projections.GetAPIToken(ctx, f.pool, "t1", live.ID)
	require.NoError(t, err)
	assert.Equal(t, projections.APITokenView{ID: live.ID, TenantID: "t1", UserID: userID, Name: "ci",
		CreatedAt: f.base.Add(time.Minute)}, got)
	_, err = projections.GetAPIToken(ctx, f.pool, "t2", live.ID)
	assert.ErrorIs(t, err, user.ErrTokenNotFound, "scoped to the tenant")
	list, err := projections.ListAPITokens(ctx, f.pool, "t1", userID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{live.ID, expiring.ID}, []string{list[0].ID, list[1].ID})

	wrong := live
	wrong.Secret = expiring.Secret
	tests := []struct {
		name  string
		token string
		now   time.Time
		ok    bool
	}{
		{"valid", live.String(), f.base, true},
		{"valid until expiry", expiring.String(), expiry.Add(-time.Second), true},
		{"expired", expiring.String(), expiry, false},
		{"wrong secret", wrong.String(), f.base, false},
		{"unknown id", authtoken.APIToken{ID: uuid.NewString(), Secret: live.Secret}.String(), f.base, false},
		{"malformed", "Bearer nonsense", f.base, false},
	}
	for _, tc := range tests {
		view, err := projections.AuthenticateAPIToken(ctx, f.pool, tc.token, tc.now)
		if tc.ok {
			require.NoError(t, err, tc.name)
			assert.Equal(t, userID, view.UserID, tc.name)
			continue
		}
		assert.ErrorIs(t, err, projections.ErrAPITokenRejected, tc.name)
	}

	revoked := f.event(t, "t1", stream, 4, user.APITokenRevoked{TokenID: live.ID})
	later := revoked
	later.Metadata.OccurredAt = f.base.Add(time.Hour)
	f.apply(t, p, revoked, later)
	got, err = projections.GetAPIToken(ctx, f.pool, "t1", live.ID)
	require.NoError(t, err)
	require.NotNil(t, got.RevokedAt)
	assert.Equal(t, f.base.Add(4*time.Minute), got.RevokedAt.UTC(), "the first revocation time stays")
	_, err = projections.AuthenticateAPIToken(ctx, f.pool, live.String(), f.base)
	assert.ErrorIs(t, err, projections.ErrAPITokenRejected, "revoked")
}

func TestListTenantAPITokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIdnFixture(t)
	p := projections.NewAPITokensProjector()
	alice, bob, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	f.apply(t, p,
		f.event(t, "t1", user.Stream(alice), 1, user.APITokenIssued{TokenID: ids[0], Name: "ci", SecretHash: "h"}),
		f.event(t, "t2", user.Stream(other), 1, user.APITokenIssued{TokenID: ids[1], Name: "theirs", SecretHash: "h"}),
		f.event(t, "t1", user.Stream(bob), 2, user.APITokenIssued{TokenID: ids[2], Name: "deploy", SecretHash: "h"}),
		f.event(t, "t1", user.Stream(alice), 3, user.APITokenRevoked{TokenID: ids[0]}))

	tests := []struct {
		tenant string
		want   []string
	}{
		{"t1", []string{ids[0], ids[2]}},
		{"t2", []string{ids[1]}},
		{"t3", nil},
	}
	for _, tc := range tests {
		list, err := projections.ListTenantAPITokens(ctx, f.pool, tc.tenant)
		require.NoError(t, err, tc.tenant)
		var got []string
		for _, tok := range list {
			assert.Equal(t, tc.tenant, tok.TenantID)
			got = append(got, tok.ID)
		}
		assert.Equal(t, tc.want, got, tc.tenant)
	}
	list, err := projections.ListTenantAPITokens(ctx, f.pool, "t1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.NotNil(t, list[0].RevokedAt, "revoked tokens are listed, marked revoked")
	assert.Equal(t, bob, list[1].UserID)
}
