package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authenticatorApp plays a user's authenticator app: it knows the secret
// and hands out codes of time steps the server has not seen used.
type authenticatorApp struct {
	t      *testing.T
	secret string
	last   int64 // the latest step whose code was accepted
}

// fresh returns a code of the earliest unused step the server accepts now
// (one step of skew either side), waiting for the next step when the
// window is spent. A past step is used only with time to spare.
func (a *authenticatorApp) fresh() string {
	a.t.Helper()
	for {
		now := time.Now()
		cur := now.Unix() / 30
		for step := cur - 1; step <= cur+1; step++ {
			if step <= a.last || (step == cur-1 && now.Unix()%30 > 25) {
				continue
			}
			a.last = step
			return a.at(step)
		}
		time.Sleep(time.Until(time.Unix((cur+1)*30, 0)) + 100*time.Millisecond)
	}
}

// wrong returns a code of no step the server could accept now.
func (a *authenticatorApp) wrong() string {
	a.t.Helper()
	cur := time.Now().Unix() / 30
	taken := map[string]bool{}
	for step := cur - 2; step <= cur+2; step++ {
		taken[a.at(step)] = true
	}
	for n := 0; ; n++ {
		if code := fmt.Sprintf("%06d", n); !taken[code] {
			return code
		}
	}
}

func (a *authenticatorApp) at(step int64) string {
	code, err := totp.GenerateCode(a.secret, time.Unix(step*30, 0))
	require.NoError(a.t, err)
	return code
}

// enrolTOTP starts and confirms TOTP for the token's user.
func (s *service) enrolTOTP(token string) *authenticatorApp {
	s.t.Helper()
	status, started := s.json("POST", "/v1/me/totp", token, "")
	require.Equal(s.t, http.StatusCreated, status, started)
	app := &authenticatorApp{t: s.t, secret: started["secret"].(string)}
	status, confirmed := s.json("POST", "/v1/me/totp/confirm", token, fmt.Sprintf(`{"code":%q}`, app.fresh()))
	require.Equal(s.t, http.StatusOK, status, confirmed)
	return app
}

// settled reads path (with min_position), asking again while the read
// models lag past the server's wait (504) on a busy machine.
func (s *service) settled(path, token string) (int, map[string]any) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := s.json("GET", path, token, "")
		if status != http.StatusGatewayTimeout || time.Now().After(deadline) {
			return status, body
		}
	}
}

func loginBody(email, password, otp string) string {
	if otp == "" {
		return fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	}
	return fmt.Sprintf(`{"email":%q,"password":%q,"otp":%q}`, email, password, otp)
}

// TestTOTPEndToEnd enrols a user through the API, logs in without, with a
// wrong, a right and a replayed code (password and browser logins), sees
// failed codes throttled, has an ADMIN require TOTP for the tenant (a user
// without it gets a token that only enrols), resets a lost device, and
// disables TOTP once the tenant no longer requires it.
func TestTOTPEndToEnd(t *testing.T) {
	s := startService(t, map[string]string{"APIQ_LOGIN_MAX_FAILURES": "4"})
	const password = "a long password"
	ana := s.user("ana@example.com", "USER")
	ben := s.user("ben@example.com", "USER")
	login := func(email, otp string) (int, map[string]any) {
		return s.json("POST", "/v1/auth/login", "", loginBody(email, password, otp))
	}

	// Enrolment: the secret is shown once and recorded only sealed.
	status, headers, raw := s.send("POST", "/v1/me/totp", ana, nil, "")
	require.Equal(t, http.StatusCreated, status, string(raw))
	assert.Equal(t, "no-store", headers.Get("Cache-Control"))
	started := decodeObject(t, raw)
	app := &authenticatorApp{t: t, secret: started["secret"].(string)}
	assert.True(t, strings.HasPrefix(started["otpauth_url"].(string), "otpauth://totp/APIQ:ana@example.com?"), started["otpauth_url"])
	assert.Zero(t, s.count(`SELECT count(*) FROM events WHERE strpos(data::text, $1) > 0 OR strpos(metadata::text, $1) > 0`, app.secret),
		"no event holds the secret in plaintext")
	assert.NotContains(t, s.logs.String(), app.secret)

	status, body := s.json("POST", "/v1/me/totp/confirm", ana, fmt.Sprintf(`{"code":%q}`, app.wrong()))
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Equal(t, "invalid_otp", errorDetails(body)["reason"])
	status, body = login("ana@example.com", "")
	require.Equal(t, http.StatusOK, status, "no code needed before confirmation: %v", body)
	status, body = s.json("POST", "/v1/me/totp/confirm", ana, fmt.Sprintf(`{"code":%q}`, app.fresh()))
	require.Equal(t, http.StatusOK, status, body)
	status, me := s.settled("/v1/me?min_position="+body["position"].(string), ana)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, me["user"].(map[string]any)["totp_enabled"])
	status, body = s.json("POST", "/v1/me/totp", ana, "")
	assert.Equal(t, http.StatusConflict, status, body)
	assert.Equal(t, "totp_already_enabled", errorDetails(body)["reason"])

	// Logins: the code is required, checked, and good once.
	code := app.fresh()
	steps := []struct {
		name, otp, wantCode string
		want                int
	}{
		{"no code", "", "otp_required", http.StatusUnauthorized},
		{"wrong code", app.wrong(), "invalid_otp", http.StatusUnauthorized},
		{"right code", code, "", http.StatusOK},
		{"replayed code", code, "invalid_otp", http.StatusUnauthorized},
	}
	for _, st := range steps {
		status, body := login("ana@example.com", st.otp)
		require.Equal(t, st.want, status, "%s: %v", st.name, body)
		if st.wantCode != "" {
			assert.Equal(t, st.wantCode, errorCode(body), st.name)
			continue
		}
		status, _ = s.json("GET", "/v1/me", body["access_token"].(string), "")
		assert.Equal(t, http.StatusOK, status, "a full token")
	}
	status, _, raw = s.send("POST", "/v1/auth/session", "", strings.NewReader(loginBody("ana@example.com", password, code)), "application/json")
	assert.Equal(t, http.StatusUnauthorized, status, "the browser login refuses the replayed code too")
	assert.Equal(t, "invalid_otp", errorCode(decodeObject(t, raw)))
	status, body = s.json("POST", "/v1/auth/login", "", loginBody("ana@example.com", "not the password", app.wrong()))
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "unauthorized", errorCode(body), "a wrong password says nothing of the code")

	// Failed codes count towards throttling (four since the success).
	status, _ = login("ana@example.com", app.wrong())
	require.Equal(t, http.StatusUnauthorized, status)
	status, body = login("ana@example.com", app.fresh())
	assert.Equal(t, http.StatusTooManyRequests, status, "even the right code waits: %v", body)

	// Wrong codes on the signed-in routes are throttled per user too.
	cy := s.user("cy@example.com", "USER")
	status, started = s.json("POST", "/v1/me/totp", cy, "")
	require.Equal(t, http.StatusCreated, status, started)
	cyApp := &authenticatorApp{t: t, secret: started["secret"].(string)}
	for range 4 {
		status, body = s.json("POST", "/v1/me/totp/confirm", cy, fmt.Sprintf(`{"code":%q}`, cyApp.wrong()))
		require.Equal(t, http.StatusBadRequest, status, body)
	}
	status, body = s.json("POST", "/v1/me/totp/confirm", cy, fmt.Sprintf(`{"code":%q}`, cyApp.fresh()))
	assert.Equal(t, http.StatusTooManyRequests, status, body)
	assert.Equal(t, "totp_code", errorDetails(body)["limit"])

	// The tenant requires TOTP: ADMINs only.
	status, _ = s.json("PUT", "/v1/tenant/security", ana, `{"totp_required":true}`)
	assert.Equal(t, http.StatusForbidden, status)
	status, body = s.json("PUT", "/v1/tenant/security", s.admin, `{"totp_required":true}`)
	require.Equal(t, http.StatusOK, status, body)
	status, settings := s.settled("/v1/tenant/security?min_position="+body["position"].(string), ben)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"totp_required": true}, settings)

	// Ben has no TOTP: his password gets a short-lived token that only enrols.
	status, body = login("ben@example.com", "")
	require.Equal(t, http.StatusForbidden, status, body)
	assert.Equal(t, "totp_enrollment_required", errorCode(body))
	details := errorDetails(body)
	assert.Equal(t, "totp_enrollment", details["scope"])
	assert.LessOrEqual(t, details["expires_in"].(float64), float64(600))
	restricted := details["access_token"].(string)
	for _, call := range [][2]string{{"GET", "/v1/me"}, {"GET", "/v1/connections"}, {"DELETE", "/v1/me/totp"}, {"GET", "/v1/tenant/security"}} {
		status, body := s.json(call[0], call[1], restricted, "")
		assert.Equal(t, http.StatusForbidden, status, "%s %s: %v", call[0], call[1], body)
		assert.Equal(t, "totp_enrollment_required", errorCode(body))
	}
	status, headers, _ = s.send("POST", "/v1/auth/session", "", strings.NewReader(loginBody("ben@example.com", password, "")), "application/json")
	assert.Equal(t, http.StatusForbidden, status, "no browser session either")
	assert.Empty(t, headers.Values("Set-Cookie"))
	benApp := s.enrolTOTP(restricted)
	status, body = login("ben@example.com", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "otp_required", errorCode(body))
	status, body = login("ben@example.com", benApp.fresh())
	require.Equal(t, http.StatusOK, status, body)
	status, _ = s.json("GET", "/v1/connections", body["access_token"].(string), "")
	assert.Equal(t, http.StatusOK, status, "with the code: a full token")

	// Required: nobody disables it, an ADMIN resets a lost device.
	status, body = s.json("DELETE", "/v1/me/totp", ana, fmt.Sprintf(`{"code":%q}`, app.fresh()))
	assert.Equal(t, http.StatusConflict, status, body)
	assert.Equal(t, "totp_required", errorDetails(body)["reason"])
	_, benMe := s.json("GET", "/v1/me", ben, "")
	benID := benMe["user"].(map[string]any)["id"].(string)
	status, _ = s.json("DELETE", "/v1/users/"+benID+"/totp", ana, "")
	assert.Equal(t, http.StatusForbidden, status, "USERs reset nobody's TOTP")
	status, body = s.json("DELETE", "/v1/users/"+benID+"/totp", s.admin, "")
	require.Equal(t, http.StatusOK, status, body)
	status, body = login("ben@example.com", "")
	assert.Equal(t, http.StatusForbidden, status, "enrol a new device: %v", body)

	// Not required any more: the user turns it off with a current code.
	status, body = s.json("PUT", "/v1/tenant/security", s.admin, `{"totp_required":false}`)
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.json("DELETE", "/v1/me/totp", ana, fmt.Sprintf(`{"code":%q}`, app.wrong()))
	assert.Equal(t, http.StatusBadRequest, status, body)
	status, body = s.json("DELETE", "/v1/me/totp", ana, fmt.Sprintf(`{"code":%q}`, app.fresh()))
	require.Equal(t, http.StatusOK, status, body)
	status, me = s.settled("/v1/me?min_position="+body["position"].(string), ana)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, false, me["user"].(map[string]any)["totp_enabled"])
	status, body = login("ben@example.com", "")
	require.Equal(t, http.StatusOK, status, "ben needs no code now: %v", body)

	// The way back in for a tenant whose only ADMIN lost the device: the CLI.
	s.enrolTOTP(body["access_token"].(string))
	status, body = login("ben@example.com", "")
	require.Equal(t, http.StatusUnauthorized, status, body)
	out, err := s.runCLI("admin", "reset-totp", "--tenant", s.tenantID, "--user", benID)
	require.NoError(t, err, out)
	assert.Contains(t, out, "position: ")
	status, body = login("ben@example.com", "")
	assert.Equal(t, http.StatusOK, status, "reset from the command line: %v", body)
}
