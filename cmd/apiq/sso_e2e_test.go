package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/apiq/apiq/http/auth"
)

// ssoEnv is APIQ with one OpenID provider configured by the tenant's
// ADMIN: zitadel's example OP, started in process.
type ssoEnv struct {
	s          *service
	op         *httptest.Server
	users      storage.UserStore
	issuer     string
	providerID string
	callback   string
}

func startSSO(t *testing.T, env map[string]string) *ssoEnv {
	t.Helper()
	s := startService(t, env)
	op := httptest.NewUnstartedServer(nil)
	e := &ssoEnv{s: s, op: op, issuer: "http://" + op.Listener.Addr().String()}
	status, body := s.json("POST", "/v1/sso/providers", s.admin, fmt.Sprintf(
		`{"name":"Example","issuer_url":%q,"client_id":"apiq-web","client_secret":"apiq-web-secret"}`, e.issuer))
	require.Equal(t, http.StatusCreated, status, body)
	e.providerID = body["id"].(string)
	e.callback = body["redirect_uri"].(string)
	require.Equal(t, s.base+"/v1/auth/sso/"+e.providerID+"/callback", e.callback)
	e.users = storage.NewUserStore(e.issuer)
	store := storage.NewStorageWithClients(e.users, map[string]*storage.Client{
		"apiq-web": storage.WebClient("apiq-web", "apiq-web-secret", e.callback),
	})
	op.Config.Handler = exampleop.SetupServer(e.issuer, store, nil, false)
	op.Start()
	t.Cleanup(op.Close)
	return e
}

// browser is a cookie-jar client that follows no redirect, so every hop
// can be checked.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, b *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := b.Get(u)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

// signIn runs the browser through APIQ's start, the provider's login form
// and returns the callback URL the provider sent it back to ("" when the
// provider refused the password).
func (e *ssoEnv) signIn(t *testing.T, b *http.Client, password string) string {
	t.Helper()
	resp := get(t, b, e.s.base+"/v1/auth/sso/"+e.providerID+"/start")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authorize := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(authorize, e.issuer), authorize)
	// The provider's own redirects, up to its login page.
	next := authorize
	var page []byte
	for range 5 {
		r, err := b.Get(next)
		require.NoError(t, err)
		page, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
		if r.StatusCode != http.StatusFound {
			break
		}
		loc, err := r.Request.URL.Parse(r.Header.Get("Location"))
		require.NoError(t, err)
		next = loc.String()
	}
	m := loginRequestID.FindSubmatch(page)
	require.NotNil(t, m, "the provider's login form: %s", page)
	r, err := b.PostForm(e.issuer+"/login/username", url.Values{
		"id": {string(m[1])}, "username": {"test-user@127.0.0.1"}, "password": {password},
	})
	require.NoError(t, err)
	_ = r.Body.Close()
	if r.StatusCode != http.StatusFound {
		return ""
	}
	back := r.Header.Get("Location")
	// The provider finishes the login at its own callback before it
	// redirects the browser back to APIQ.
	for range 5 {
		if strings.HasPrefix(back, e.callback) {
			return back
		}
		u, err := r.Request.URL.Parse(back)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u.String(), e.issuer), "left the provider for %s", u)
		r, err = b.Get(u.String())
		require.NoError(t, err)
		_ = r.Body.Close()
		require.Equal(t, http.StatusFound, r.StatusCode, u.String())
		back = r.Header.Get("Location")
	}
	require.True(t, strings.HasPrefix(back, e.callback), back)
	return back
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// call sends a request with the browser's cookies and optional headers.
func call(t *testing.T, b *http.Client, method, u string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(raw)
}

func TestSSOLoginEndToEnd(t *testing.T) {
	e := startSSO(t, nil)
	s := e.s
	b := newBrowser(t)
	back := e.signIn(t, b, "verysecure")
	require.NotEmpty(t, back)

	resp := get(t, b, back)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	sess := cookieOf(resp, auth.SessionCookie)
	require.NotNil(t, sess, "the session cookie")
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	assert.False(t, sess.Secure, "APIQ_PUBLIC_URL is not https")
	csrf := cookieOf(resp, auth.CSRFCookie)
	require.NotNil(t, csrf)
	assert.False(t, csrf.HttpOnly, "the interface reads the CSRF token")

	status, me := call(t, b, http.MethodGet, s.base+"/v1/me")
	require.Equal(t, http.StatusOK, status, me)
	assert.Contains(t, me, `"auth_method":"sso"`)
	assert.Contains(t, me, `"email":"test-user@zitadel.ch"`)
	assert.Contains(t, me, `"role":"USER"`, "just in time, with the default role")

	// The login event names the provider's issuer and subject.
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM events WHERE event_type = 'user.logged_in'
		AND metadata->'actor'->>'sso_issuer' = $1 AND metadata->'actor'->>'sso_subject' <> ''`, e.issuer))

	// The code is single use: the same callback again is refused.
	resp = get(t, b, back)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/?sso_error=sso_refused", resp.Header.Get("Location"))
	assert.Nil(t, cookieOf(resp, auth.SessionCookie))

	// A second login through the provider is the same user.
	again := newBrowser(t)
	resp = get(t, again, e.signIn(t, again, "verysecure"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM events WHERE event_type = 'user.created'
		AND metadata->'actor'->>'sso_issuer' = $1`, e.issuer), "created once, then linked")

	// State-changing requests with the cookie need the CSRF token or APIQ's origin.
	status, body := call(t, b, http.MethodPost, s.base+"/v1/auth/logout")
	assert.Equal(t, http.StatusForbidden, status, body)
	assert.Contains(t, body, "csrf_failed")
	status, body = call(t, b, http.MethodPost, s.base+"/v1/auth/logout", "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, status, body)
	status, body = call(t, b, http.MethodPost, s.base+"/v1/auth/logout", auth.CSRFHeader, csrf.Value)
	assert.Equal(t, http.StatusNoContent, status, body)
	status, _ = call(t, b, http.MethodGet, s.base+"/v1/me")
	assert.Equal(t, http.StatusUnauthorized, status, "the session is revoked")
	status, _ = call(t, again, http.MethodGet, s.base+"/v1/me")
	assert.Equal(t, http.StatusOK, status, "the other browser's session lives on")

	// A disabled user's session stops working and SSO refuses them.
	status, users := s.json("GET", "/v1/users", s.admin, "")
	require.Equal(t, http.StatusOK, status)
	var ssoUser string
	for _, u := range users["users"].([]any) {
		if m := u.(map[string]any); m["email"] == "test-user@zitadel.ch" {
			ssoUser = m["id"].(string)
		}
	}
	require.NotEmpty(t, ssoUser)
	status, _ = s.json("PATCH", "/v1/users/"+ssoUser, s.admin, `{"enabled":false}`)
	require.Equal(t, http.StatusOK, status)
	status, _ = call(t, again, http.MethodGet, s.base+"/v1/me")
	assert.Equal(t, http.StatusUnauthorized, status)
	third := newBrowser(t)
	resp = get(t, third, e.signIn(t, third, "verysecure"))
	assert.Equal(t, "/?sso_error=invalid_credentials", resp.Header.Get("Location"))
	assert.Nil(t, cookieOf(resp, auth.SessionCookie))

	// Both refusals are in the audit trail, each once: the replayed callback
	// on the tenant's security stream, the disabled user's on their stream.
	s.waitForAudit()
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM rm_audit.audit_events WHERE tenant_id = $1
		AND action = 'security.sso_login_failed' AND summary->>'reason' = 'unknown_state'`, s.tenantID))
	assert.Equal(t, 1, e.ssoFailures(t), "the disabled user's refusal is not recorded twice")
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM rm_audit.audit_events WHERE tenant_id = $1
		AND action = 'user.login_failed' AND resource_id = $2 AND sso_issuer = $3 AND summary->>'reason' = 'disabled'`,
		s.tenantID, ssoUser, e.issuer))
}

// ssoFailures counts the recorded failed single sign-ons.
func (e *ssoEnv) ssoFailures(t *testing.T) int {
	t.Helper()
	return e.s.count(`SELECT count(*) FROM events WHERE event_type = 'security.sso_login_failed'`)
}

// ssoFailure is a failed single sign-on expected in the audit trail.
type ssoFailure struct {
	reason        string
	providerError string
	// subject: the provider's subject is known (the ID token verified).
	subject bool
	// secrets must appear in neither the event nor its audit row.
	secrets []string
}

// assertFailure checks that exactly one failed single sign-on was recorded
// since before: security.sso_login_failed on the provider's tenant's
// security stream, with the reason, the issuer and the request's metadata,
// turned into a failure row of the audit trail, and no secret in either.
func (e *ssoEnv) assertFailure(t *testing.T, before int, want ssoFailure) {
	t.Helper()
	s := e.s
	require.Equal(t, before+1, e.ssoFailures(t), "one failed login recorded")
	var eventID, tenantID, stream, data, metadata string
	require.NoError(t, s.core.pool.QueryRow(context.Background(), `SELECT event_id::text, tenant_id, stream_id,
		data::text, metadata::text FROM events WHERE event_type = 'security.sso_login_failed'
		ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&eventID, &tenantID, &stream, &data, &metadata))
	assert.Equal(t, s.tenantID, tenantID, "the provider's tenant")
	assert.Equal(t, "security-"+s.tenantID, stream)

	s.waitForAudit()
	var outcome, issuer, subject, actor, method, clientIP, userAgent, requestID, summary string
	require.NoError(t, s.core.pool.QueryRow(context.Background(), `SELECT outcome, sso_issuer, sso_subject, actor_subject,
		auth_method, client_ip, user_agent, request_id, summary::text FROM rm_audit.audit_events
		WHERE tenant_id = $1 AND event_id = $2`, s.tenantID, eventID).
		Scan(&outcome, &issuer, &subject, &actor, &method, &clientIP, &userAgent, &requestID, &summary))
	assert.Equal(t, "failure", outcome)
	assert.Equal(t, e.issuer, issuer)
	assert.Equal(t, want.subject, subject != "", "the subject %q", subject)
	assert.Empty(t, actor, "nobody signed in")
	assert.Equal(t, "sso", method)
	assert.Equal(t, "127.0.0.1", clientIP)
	assert.Contains(t, userAgent, "Go-http-client")
	assert.NotEmpty(t, requestID)
	var sum map[string]any
	require.NoError(t, json.Unmarshal([]byte(summary), &sum))
	assert.Equal(t, want.reason, sum["reason"], summary)
	assert.Equal(t, e.providerID, sum["provider_id"], summary)
	assert.Equal(t, e.issuer, sum["issuer"], summary)
	if want.providerError != "" {
		assert.Equal(t, want.providerError, sum["provider_error"], summary)
	}
	for _, secret := range append(want.secrets, "apiq-web-secret") {
		require.NotEmpty(t, secret)
		for name, text := range map[string]string{"data": data, "metadata": metadata, "summary": summary} {
			assert.NotContains(t, text, secret, "a secret in the %s", name)
		}
	}
}

// callbackSecrets are the code and state of a callback URL.
func callbackSecrets(t *testing.T, callback string) []string {
	t.Helper()
	u, err := url.Parse(callback)
	require.NoError(t, err)
	return []string{u.Query().Get("code"), u.Query().Get("state")}
}

func TestSSOLoginRefusals(t *testing.T) {
	e := startSSO(t, nil)
	s := e.s
	refusedWith := func(t *testing.T, b *http.Client, callback, code string) {
		t.Helper()
		resp := get(t, b, callback)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/?sso_error="+code, resp.Header.Get("Location"))
		assert.Nil(t, cookieOf(resp, auth.SessionCookie))
	}
	refused := func(t *testing.T, b *http.Client, callback string) {
		t.Helper()
		refusedWith(t, b, callback, "sso_refused")
	}

	t.Run("wrong password", func(t *testing.T) {
		before := e.ssoFailures(t)
		b := newBrowser(t)
		assert.Empty(t, e.signIn(t, b, "not the password"), "the provider sends no code back")
		assert.Equal(t, before, e.ssoFailures(t), "the provider refused: APIQ saw no callback")
	})
	t.Run("unverified email of an existing user", func(t *testing.T) {
		status, body := s.json("POST", "/v1/users", s.admin,
			`{"email":"test-user@zitadel.ch","name":"n","password":"a long password","role":"USER"}`)
		require.Equal(t, http.StatusCreated, status, body)
		opUser := e.users.GetUserByUsername("test-user@127.0.0.1")
		require.NotNil(t, opUser)
		opUser.EmailVerified = false
		defer func() { opUser.EmailVerified = true }()
		before := e.ssoFailures(t)
		b := newBrowser(t)
		back := e.signIn(t, b, "verysecure")
		refusedWith(t, b, back, "sso_email_unverified")
		e.assertFailure(t, before, ssoFailure{reason: "email_unverified", subject: true,
			secrets: append(callbackSecrets(t, back), "test-user@zitadel.ch")})
	})
	t.Run("email domain not allowed", func(t *testing.T) {
		ctx := context.Background()
		_, err := s.core.pool.Exec(ctx, `UPDATE sso_providers SET allowed_domains = '{example.com}' WHERE id = $1`, e.providerID)
		require.NoError(t, err)
		defer func() {
			_, err := s.core.pool.Exec(ctx, `UPDATE sso_providers SET allowed_domains = '{}' WHERE id = $1`, e.providerID)
			require.NoError(t, err)
		}()
		before := e.ssoFailures(t)
		b := newBrowser(t)
		back := e.signIn(t, b, "verysecure")
		refusedWith(t, b, back, "sso_email_domain")
		e.assertFailure(t, before, ssoFailure{reason: "email_domain_not_allowed",
			secrets: append(callbackSecrets(t, back), "test-user@zitadel.ch")})
	})
	t.Run("tampered state", func(t *testing.T) {
		before := e.ssoFailures(t)
		b := newBrowser(t)
		back, err := url.Parse(e.signIn(t, b, "verysecure"))
		require.NoError(t, err)
		q := back.Query()
		q.Set("state", q.Get("state")+"x")
		back.RawQuery = q.Encode()
		refused(t, b, back.String())
		e.assertFailure(t, before, ssoFailure{reason: "unknown_state", secrets: callbackSecrets(t, back.String())})
	})
	t.Run("expired state", func(t *testing.T) {
		before := e.ssoFailures(t)
		b := newBrowser(t)
		back := e.signIn(t, b, "verysecure")
		secrets := callbackSecrets(t, back)
		tag, err := s.core.pool.Exec(context.Background(), `UPDATE sso_login_flows SET expires_at = now() - interval '1 minute'
			WHERE state_hash = sha256($1::bytea)`, []byte(secrets[1]))
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		refused(t, b, back)
		e.assertFailure(t, before, ssoFailure{reason: "expired_state", secrets: secrets})
	})
	t.Run("replayed code with a fresh state", func(t *testing.T) {
		b := newBrowser(t)
		first, err := url.Parse(e.signIn(t, b, "verysecure"))
		require.NoError(t, err)
		second, err := url.Parse(e.signIn(t, b, "verysecure"))
		require.NoError(t, err)
		require.Equal(t, http.StatusSeeOther, get(t, b, first.String()).StatusCode)
		before := e.ssoFailures(t)
		q := second.Query()
		q.Set("code", first.Query().Get("code"))
		second.RawQuery = q.Encode()
		refused(t, b, second.String())
		e.assertFailure(t, before, ssoFailure{reason: "code_exchange_failed",
			secrets: append(callbackSecrets(t, first.String()), second.Query().Get("state"))})
	})
	t.Run("wrong nonce", func(t *testing.T) {
		b := newBrowser(t)
		back := e.signIn(t, b, "verysecure")
		other := e.signIn(t, newBrowser(t), "verysecure")
		otherURL, err := url.Parse(other)
		require.NoError(t, err)
		// This flow now expects the other flow's nonce.
		backURL, err := url.Parse(back)
		require.NoError(t, err)
		tag, err := s.core.pool.Exec(context.Background(), `UPDATE sso_login_flows f SET nonce_sealed = o.nonce_sealed
			FROM sso_login_flows o WHERE o.state_hash = sha256($1::bytea) AND f.state_hash = sha256($2::bytea)`,
			[]byte(otherURL.Query().Get("state")), []byte(backURL.Query().Get("state")))
		require.NoError(t, err)
		require.EqualValues(t, 1, tag.RowsAffected())
		before := e.ssoFailures(t)
		refused(t, b, back)
		e.assertFailure(t, before, ssoFailure{reason: "nonce_mismatch",
			secrets: append(callbackSecrets(t, back), otherURL.Query().Get("state"))})
	})
	t.Run("provider error", func(t *testing.T) {
		before := e.ssoFailures(t)
		refused(t, newBrowser(t), e.callback+"?error=access_denied&error_description=Secret-Detail-42&state=st4te-value")
		e.assertFailure(t, before, ssoFailure{reason: "provider_error", providerError: "access_denied",
			secrets: []string{"st4te-value", "Secret-Detail-42"}})
	})
	t.Run("provider error outside the standard codes", func(t *testing.T) {
		before := e.ssoFailures(t)
		refused(t, newBrowser(t), e.callback+"?error=made-up-secret-99&state=x")
		e.assertFailure(t, before, ssoFailure{reason: "provider_error", providerError: "other",
			secrets: []string{"made-up-secret-99"}})
	})
	t.Run("unknown provider", func(t *testing.T) {
		before := e.ssoFailures(t)
		resp := get(t, newBrowser(t), s.base+"/v1/auth/sso/00000000-0000-0000-0000-000000000000/start")
		assert.Equal(t, "/?sso_error=sso_provider_not_found", resp.Header.Get("Location"))
		resp = get(t, newBrowser(t), s.base+"/v1/auth/sso/00000000-0000-0000-0000-000000000000/callback?code=c&state=s")
		assert.Equal(t, "/?sso_error=sso_provider_not_found", resp.Header.Get("Location"))
		resp = get(t, newBrowser(t), s.base+"/v1/auth/sso/00000000-0000-0000-0000-000000000000/callback?error=access_denied")
		assert.Equal(t, "/?sso_error=sso_refused", resp.Header.Get("Location"))
		assert.Equal(t, before, e.ssoFailures(t), "no tenant: nothing recorded")
	})
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM browser_sessions`),
		"no session for any refusal: only the replay case's first, genuine callback signed in")
}

func TestPasswordSession(t *testing.T) {
	s := startService(t, map[string]string{"APIQ_PUBLIC_URL": "https://apiq.example"})
	b := newBrowser(t)
	post := func(body string) *http.Response {
		resp, err := b.Post(s.base+"/v1/auth/session", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	resp := post(fmt.Sprintf(`{"email":%q,"password":"wrong"}`, e2eAdminEmail))
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Nil(t, cookieOf(resp, auth.SessionCookie))

	resp = post(fmt.Sprintf(`{"email":%q,"password":%q}`, e2eAdminEmail, e2eAdminPassword))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	sess := cookieOf(resp, auth.SessionCookie)
	require.NotNil(t, sess)
	assert.True(t, sess.Secure, "APIQ_PUBLIC_URL is https")
	assert.True(t, sess.HttpOnly)
	// The jar keeps Secure cookies off http://, so the browser sends it by hand.
	cookie := auth.SessionCookie + "=" + sess.Value
	status, me := call(t, b, http.MethodGet, s.base+"/v1/me", "Cookie", cookie)
	require.Equal(t, http.StatusOK, status, me)
	assert.Contains(t, me, `"auth_method":"password"`)

	// A cookie-authenticated ADMIN change: from APIQ's public origin it passes.
	status, body := call(t, b, http.MethodGet, s.base+"/v1/sso/providers", "Cookie", cookie)
	assert.Equal(t, http.StatusOK, status, body)
	status, body = call(t, b, http.MethodDelete, s.base+"/v1/sso/providers/00000000-0000-0000-0000-000000000000",
		"Cookie", cookie)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, body = call(t, b, http.MethodDelete, s.base+"/v1/sso/providers/00000000-0000-0000-0000-000000000000",
		"Cookie", cookie, "Origin", "https://apiq.example")
	assert.Equal(t, http.StatusNotFound, status, body)

	status, _ = call(t, b, http.MethodPost, s.base+"/v1/auth/logout", "Cookie", cookie, "Origin", "https://apiq.example")
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = call(t, b, http.MethodGet, s.base+"/v1/me", "Cookie", cookie)
	assert.Equal(t, http.StatusUnauthorized, status)
}
