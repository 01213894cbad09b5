package authtoken_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return priv
}

var claims = authtoken.Claims{UserID: "u1", TenantID: "t1", Role: "ADMIN", AuthMethod: "password"}

func TestIssueAndVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s, err := authtoken.NewSigner(authtoken.Config{Key: newKey(t), Now: func() time.Time { return now }})
	require.NoError(t, err)
	iss, err := s.Issue(claims)
	require.NoError(t, err)
	assert.Equal(t, 15*time.Minute, iss.ExpiresIn)
	assert.Equal(t, now.Add(15*time.Minute), iss.ExpiresAt)

	got, err := s.Verify(iss.Token)
	require.NoError(t, err)
	assert.Equal(t, authtoken.Claims{
		UserID: "u1", TenantID: "t1", Role: "ADMIN", AuthMethod: "password",
		ID: iss.ID, IssuedAt: now, ExpiresAt: iss.ExpiresAt,
	}, got)

	header, _, _ := strings.Cut(iss.Token, ".")
	assert.NotEmpty(t, header)
	parsed, _, err := jwt.NewParser().ParseUnverified(iss.Token, jwt.MapClaims{})
	require.NoError(t, err)
	assert.Equal(t, "EdDSA", parsed.Header["alg"])
	mc := parsed.Claims.(jwt.MapClaims)
	assert.Equal(t, "apiq", mc["iss"])
	assert.Equal(t, "u1", mc["sub"])
	assert.Contains(t, mc, "nbf")
	assert.Contains(t, mc, "jti")
}

func TestRestrictedToken(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	s, err := authtoken.NewSigner(authtoken.Config{Key: newKey(t), Now: func() time.Time { return now }})
	require.NoError(t, err)
	tests := []struct {
		name    string
		ttl     time.Duration
		wantTTL time.Duration
	}{
		{"shorter lifetime", 5 * time.Minute, 5 * time.Minute},
		{"never longer than the signer's", time.Hour, 15 * time.Minute},
		{"signer's by default", 0, 15 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := claims
			c.Scope, c.TTL = "totp_enrollment", tc.ttl
			iss, err := s.Issue(c)
			require.NoError(t, err)
			assert.Equal(t, tc.wantTTL, iss.ExpiresIn)
			got, err := s.Verify(iss.Token)
			require.NoError(t, err)
			assert.Equal(t, "totp_enrollment", got.Scope)
			assert.Equal(t, now.Add(tc.wantTTL), got.ExpiresAt)
		})
	}
}

// forge signs arbitrary claims with an arbitrary method and key.
func forge(t *testing.T, method jwt.SigningMethod, key any, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	mc := jwt.MapClaims{
		"iss": "apiq", "aud": []string{"apiq"}, "sub": "u1", "tenant": "t1", "role": "ADMIN",
		"auth_method": "password", "jti": "j1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}
	if mutate != nil {
		mutate(mc)
	}
	tok, err := jwt.NewWithClaims(method, mc).SignedString(key)
	require.NoError(t, err)
	return tok
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	s, err := authtoken.NewSigner(authtoken.Config{Key: key})
	require.NoError(t, err)
	pub := key.Public().(ed25519.PublicKey)
	good := forge(t, jwt.SigningMethodEdDSA, key, nil)
	_, err = s.Verify(good)
	require.NoError(t, err, "the forging helper builds acceptable tokens with the right key")

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil), authtoken.ErrInvalidToken},
		{"another key", forge(t, jwt.SigningMethodEdDSA, newKey(t), nil), authtoken.ErrInvalidToken},
		{"HS256 keyed with the public key", forge(t, jwt.SigningMethodHS256, []byte(pub), nil), authtoken.ErrInvalidToken},
		{"wrong issuer", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) { m["iss"] = "evil" }), authtoken.ErrInvalidToken},
		{"wrong audience", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) { m["aud"] = []string{"other"} }), authtoken.ErrInvalidToken},
		{"expired", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) {
			m["exp"] = time.Now().Add(-time.Minute).Unix()
		}), authtoken.ErrExpired},
		{"not yet valid", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) {
			m["nbf"] = time.Now().Add(time.Hour).Unix()
		}), authtoken.ErrInvalidToken},
		{"issued in the future", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) {
			m["iat"] = time.Now().Add(time.Hour).Unix()
		}), authtoken.ErrInvalidToken},
		{"no expiry", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) { delete(m, "exp") }), authtoken.ErrInvalidToken},
		{"no tenant", forge(t, jwt.SigningMethodEdDSA, key, func(m jwt.MapClaims) { delete(m, "tenant") }), authtoken.ErrInvalidToken},
		{"tampered payload", tamper(good), authtoken.ErrInvalidToken},
		{"garbage", "not.a.jwt", authtoken.ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Verify(tc.token)
			assert.ErrorIs(t, err, tc.wantErr)
		})
	}
}

// tamper swaps the payload for one claiming another role, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	changed := strings.Replace(string(payload), `"ADMIN"`, `"AUDITOR"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(changed))
	return strings.Join(parts, ".")
}

func TestExpiryFollowsTheClock(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s, err := authtoken.NewSigner(authtoken.Config{Key: newKey(t), TTL: time.Minute, Now: func() time.Time { return now }})
	require.NoError(t, err)
	iss, err := s.Issue(claims)
	require.NoError(t, err)
	now = now.Add(2 * time.Minute)
	_, err = s.Verify(iss.Token)
	assert.ErrorIs(t, err, authtoken.ErrExpired)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	err := authtoken.Config{TTL: -time.Second, Leeway: time.Hour}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Ed25519")
	assert.Contains(t, err.Error(), "ttl")
	assert.Contains(t, err.Error(), "leeway")
	_, err = authtoken.NewSigner(authtoken.Config{Key: newKey(t)})
	assert.NoError(t, err)
}

func TestSigningKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", authtoken.DefaultSigningKeyFile)
	created, err := authtoken.GenerateSigningKeyFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	key, err := authtoken.ReadSigningKeyFile(path)
	require.NoError(t, err)

	created, err = authtoken.GenerateSigningKeyFile(path)
	require.NoError(t, err)
	assert.False(t, created)
	again, err := authtoken.ReadSigningKeyFile(path)
	require.NoError(t, err)
	assert.True(t, key.Equal(again), "an existing key is kept")

	require.NoError(t, os.Chmod(path, 0o640))
	_, err = authtoken.ReadSigningKeyFile(path)
	assert.ErrorContains(t, err, "chmod 600")
}
