package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
)

// forge signs claims like APIQ's access tokens with method and key.
func forge(t *testing.T, method jwt.SigningMethod, key any, mutate func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": authtoken.Issuer, "aud": []string{authtoken.Audience}, "sub": "", "tenant": "",
		"role": "ADMIN", "auth_method": "password", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "forged"}
	mutate(claims)
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return tok
}

// TestForgedTokensAreRefused sends the service tokens no one issued, or
// issued but no longer good, on an ADMIN route: every one answers 401.
func TestForgedTokensAreRefused(t *testing.T) {
	s := startService(t, nil)
	_, me := s.json("GET", "/v1/me", s.admin, "")
	adminID := me["user"].(map[string]any)["id"].(string)
	key, err := authtoken.ReadSigningKeyFile(filepath.Join(s.core.cfg.DataDir, authtoken.DefaultSigningKeyFile))
	require.NoError(t, err)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	as := func(c jwt.MapClaims) { c["sub"], c["tenant"] = adminID, s.tenantID }

	// The genuine article passes, so the refusals below are the forgeries'.
	good := forge(t, jwt.SigningMethodEdDSA, key, as)
	status, body := s.json("GET", "/v1/users", good, "")
	require.Equal(t, http.StatusOK, status, body)

	status, issued := s.json("POST", "/v1/tokens", s.admin, `{"name":"to revoke"}`)
	require.Equal(t, http.StatusCreated, status, issued)
	apiToken := issued["token"].(string)
	status, _ = s.json("GET", "/v1/users?min_position="+issued["position"].(string), apiToken, "")
	require.Equal(t, http.StatusOK, status, "the API token works before its revocation")
	status, revoked := s.json("DELETE", "/v1/tokens/"+issued["id"].(string), s.admin, "")
	require.Equal(t, http.StatusOK, status, revoked)
	status, _ = s.json("GET", "/v1/users?min_position="+revoked["position"].(string), s.admin, "")
	require.Equal(t, http.StatusOK, status)

	unsigned := func() string {
		parts := strings.Split(good, ".")
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return header + "." + parts[1] + "."
	}
	tests := map[string]string{
		"alg none":                         unsigned(),
		"wrong key":                        forge(t, jwt.SigningMethodEdDSA, otherKey, as),
		"HS256 signed with the public key": forge(t, jwt.SigningMethodHS256, []byte(key.Public().(ed25519.PublicKey)), as),
		"wrong issuer":                     forge(t, jwt.SigningMethodEdDSA, key, func(c jwt.MapClaims) { as(c); c["iss"] = "evil" }),
		"wrong audience":                   forge(t, jwt.SigningMethodEdDSA, key, func(c jwt.MapClaims) { as(c); c["aud"] = []string{"other"} }),
		"expired": forge(t, jwt.SigningMethodEdDSA, key, func(c jwt.MapClaims) {
			as(c)
			c["iat"], c["nbf"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
		}),
		"not yet valid": forge(t, jwt.SigningMethodEdDSA, key, func(c jwt.MapClaims) { as(c); c["nbf"] = time.Now().Add(time.Hour).Unix() }),
		"other tenant claimed": forge(t, jwt.SigningMethodEdDSA, key, func(c jwt.MapClaims) {
			as(c)
			c["tenant"] = "00000000-0000-0000-0000-000000000000"
		}),
		"revoked API token": apiToken,
		"truncated":         good[:len(good)-4],
	}
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := s.json("GET", "/v1/users", token, "")
			assert.Equal(t, http.StatusUnauthorized, status, body)
			assert.Equal(t, "unauthorized", errorCode(body))
		})
	}
}

// TestBrowserProtectionsAndLimits checks the security headers, CORS for
// configured origins only, the per-tenant rate limit with its headers and
// 429 body, and login throttling per account, through the real service.
func TestBrowserProtectionsAndLimits(t *testing.T) {
	s := startService(t, map[string]string{
		"APIQ_CORS_ORIGINS": "https://app.example.com", "APIQ_RATE_LIMIT": "1", "APIQ_RATE_BURST": "8",
		"APIQ_LOGIN_MAX_FAILURES": "3",
	})
	status, headers, _ := s.send("GET", "/healthz", "", nil, "", "Origin", "https://app.example.com")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, headers.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "nosniff", headers.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", headers.Get("Referrer-Policy"))
	assert.Equal(t, "https://app.example.com", headers.Get("Access-Control-Allow-Origin"))

	status, headers, _ = s.send("OPTIONS", "/v1/connections", "", nil, "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	assert.Equal(t, http.StatusNoContent, status, "an allowed preflight")
	assert.Contains(t, headers.Get("Access-Control-Allow-Headers"), "Authorization")
	status, headers, _ = s.send("OPTIONS", "/v1/connections", "", nil, "", "Origin", "https://evil.example",
		"Access-Control-Request-Method", "POST")
	assert.Equal(t, http.StatusForbidden, status, "another origin's preflight")
	assert.Empty(t, headers.Get("Access-Control-Allow-Origin"))

	// The tenant's bucket: /v1/me calls spend it, the other tenant's not.
	otherAdmin := s.otherTenantAdmin()
	var last http.Header
	var limited []byte
	for i := 0; i < 20 && limited == nil; i++ {
		status, h, raw := s.send("GET", "/v1/me", s.admin, nil, "")
		last = h
		if status == http.StatusTooManyRequests {
			limited = raw
		}
	}
	require.NotNil(t, limited, "8 requests at once, then 1 a second")
	assert.Equal(t, "8", last.Get("RateLimit-Limit"))
	assert.Equal(t, "0", last.Get("RateLimit-Remaining"))
	assert.NotEmpty(t, last.Get("RateLimit-Reset"))
	assert.Equal(t, "1", last.Get("Retry-After"))
	body := decodeObject(t, limited)
	assert.Equal(t, "rate_limited", errorCode(body))
	assert.Equal(t, "tenant", errorDetails(body)["limit"])
	status, _ = s.json("GET", "/v1/me", otherAdmin, "")
	assert.Equal(t, http.StatusOK, status, "another tenant has its own bucket")

	for range 3 {
		status, _ = s.json("POST", "/v1/auth/login", "", `{"email":"root@example.com","password":"wrong password"}`)
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, throttled := s.json("POST", "/v1/auth/login", "", `{"email":"root@example.com","password":"the first admin's password"}`)
	assert.Equal(t, http.StatusTooManyRequests, status, "the account is throttled even with its password")
	assert.Equal(t, "login_account", errorDetails(throttled)["limit"])
}
