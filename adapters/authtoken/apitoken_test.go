package authtoken_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
)

func TestAPITokenRoundTrip(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tok, err := authtoken.NewAPIToken(id)
	require.NoError(t, err)
	s := tok.String()
	assert.True(t, strings.HasPrefix(s, "apiq_"+id+"_"))
	parsed, err := authtoken.ParseAPIToken(s)
	require.NoError(t, err)
	assert.Equal(t, tok, parsed)

	hash := tok.SecretHash()
	assert.Len(t, hash, 64)
	assert.NotContains(t, hash, tok.Secret)
	assert.True(t, authtoken.VerifySecret(parsed.Secret, hash))
	other, err := authtoken.NewAPIToken(id)
	require.NoError(t, err)
	assert.NotEqual(t, tok.Secret, other.Secret, "secrets are random")
	assert.False(t, authtoken.VerifySecret(other.Secret, hash))
	assert.False(t, authtoken.VerifySecret(tok.Secret, "not-hex"))

	_, err = authtoken.NewAPIToken("not-a-uuid")
	assert.Error(t, err)
}

func TestParseAPITokenRefuses(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tok, err := authtoken.NewAPIToken(id)
	require.NoError(t, err)
	for _, s := range []string{
		"",
		"apiq",
		"apiq_" + id,
		"xapi_" + id + "_" + tok.Secret,
		"apiq_notauuid_" + tok.Secret,
		"apiq_" + strings.ToUpper(id) + "_" + tok.Secret,
		"apiq_" + id + "_short",
		"apiq_" + id + "_" + tok.Secret + "x",
	} {
		_, err := authtoken.ParseAPIToken(s)
		assert.ErrorIs(t, err, authtoken.ErrMalformedAPIToken, s)
	}
}
