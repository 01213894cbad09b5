package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/session"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	now := time.Now()
	clock := func() time.Time { return now }
	st, err := session.New(pool, time.Hour, clock)
	require.NoError(t, err)
	want := session.Session{TenantID: "t1", UserID: "u1", AuthMethod: "sso", SSOIssuer: "https://idp", SSOSubject: "s1"}

	a, err := st.Create(ctx, want)
	require.NoError(t, err)
	b, err := st.Create(ctx, want)
	require.NoError(t, err)
	assert.NotEqual(t, a.Token, b.Token)
	assert.NotEqual(t, a.Token, a.CSRFToken)

	got, csrfOK, err := st.Lookup(ctx, a.Token, a.CSRFToken)
	require.NoError(t, err)
	assert.True(t, csrfOK)
	want.ExpiresAt = got.ExpiresAt
	assert.Equal(t, want, got)
	assert.WithinDuration(t, now.Add(time.Hour), got.ExpiresAt, time.Millisecond)

	tests := []struct {
		name, token, csrf string
		err               error
		csrfOK            bool
	}{
		{"no csrf", a.Token, "", nil, false},
		{"another session's csrf", a.Token, b.CSRFToken, nil, false},
		{"unknown token", "nope", a.CSRFToken, session.ErrNotFound, false},
		{"csrf token as session token", a.CSRFToken, a.CSRFToken, session.ErrNotFound, false},
	}
	for _, tt := range tests {
		_, ok, err := st.Lookup(ctx, tt.token, tt.csrf)
		assert.ErrorIs(t, err, tt.err, tt.name)
		assert.Equal(t, tt.csrfOK, ok, tt.name)
	}

	require.NoError(t, st.Revoke(ctx, a.Token))
	_, _, err = st.Lookup(ctx, a.Token, a.CSRFToken)
	assert.ErrorIs(t, err, session.ErrNotFound, "revoked")
	_, _, err = st.Lookup(ctx, b.Token, "")
	assert.NoError(t, err, "the other session lives on")

	require.NoError(t, st.RevokeUser(ctx, "t1", "u1"))
	_, _, err = st.Lookup(ctx, b.Token, "")
	assert.ErrorIs(t, err, session.ErrNotFound, "every session of the user revoked")

	c, err := st.Create(ctx, want)
	require.NoError(t, err)
	now = now.Add(2 * time.Hour)
	_, _, err = st.Lookup(ctx, c.Token, "")
	assert.ErrorIs(t, err, session.ErrNotFound, "expired")
}
