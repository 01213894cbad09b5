package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/http/server"
)

// client talks to the running service.
type client struct {
	t    *testing.T
	base string
}

// call sends a JSON request (body "" for none) and decodes the JSON answer.
func (c client) call(method, path, token, body string, headers ...string) (int, map[string]any) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

func (c client) login(email, password string) string {
	c.t.Helper()
	status, body := c.call("POST", "/v1/auth/login", "", `{"email":"`+email+`","password":"`+password+`"}`)
	require.Equal(c.t, http.StatusOK, status, body)
	return body["access_token"].(string)
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// TestEndToEnd runs the real composition root (migrations, keys, event
// store, projectors, commands, router) against a fresh database and walks
// the identity story through HTTP.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const adminEmail, adminPassword = "root@example.com", "the first admin's password"
	cfg, err := LoadConfig(envOf(map[string]string{
		"APIQ_DATABASE_URL":       pgtest.NewDatabase(t),
		"APIQ_DATA_DIR":           t.TempDir(),
		"APIQ_HTTP_ADDR":          "127.0.0.1:0",
		"APIQ_BOOTSTRAP_EMAIL":    adminEmail,
		"APIQ_BOOTSTRAP_PASSWORD": adminPassword,
		"APIQ_BOOTSTRAP_TENANT":   "Acme",
	}))
	require.NoError(t, err)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	require.NoError(t, prepareDatabase(ctx, cfg, logger))
	k, err := ensureKeys(cfg, logger)
	require.NoError(t, err)
	c, err := openCore(ctx, cfg, logger, k)
	require.NoError(t, err)
	defer c.Close()
	handler, shutdownTracing, err := c.httpHandler(ctx, k)
	require.NoError(t, err)
	defer shutdownTracing(context.Background()) //nolint:errcheck
	srvCfg := server.DefaultConfig(cfg.HTTPAddr)
	ln, err := server.Listen(srvCfg)
	require.NoError(t, err)
	var stdout bytes.Buffer
	served := make(chan error, 1)
	go func() { served <- c.serve(ctx, srvCfg, ln, handler, &stdout) }()

	api := client{t: t, base: "http://" + ln.Addr().String()}
	require.Eventually(t, func() bool {
		resp, err := http.Get(api.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "the server starts after bootstrapping")
	assert.NotContains(t, stdout.String(), adminPassword, "credentials from the environment are never printed")

	// The bootstrapped ADMIN logs in and creates a USER; the position makes
	// the list read its own write.
	admin := api.login(adminEmail, adminPassword)
	status, me := api.call("GET", "/v1/me", admin, "")
	require.Equal(t, http.StatusOK, status, me)
	tenantID := me["tenant_id"].(string)
	assert.Equal(t, "ADMIN", me["user"].(map[string]any)["role"])

	newUser := `{"email":"bob@example.com","name":"Bob","password":"bob's password","role":"USER"}`
	status, created := api.call("POST", "/v1/users", admin, newUser, "Idempotency-Key", "create-bob")
	require.Equal(t, http.StatusCreated, status, created)
	bobID, position := created["id"].(string), created["position"].(string)
	status, again := api.call("POST", "/v1/users", admin, newUser, "Idempotency-Key", "create-bob")
	require.Equal(t, http.StatusCreated, status, again)
	assert.Equal(t, created, again, "a retry gets the first response")

	status, list := api.call("GET", "/v1/users?min_position="+position, admin, "")
	require.Equal(t, http.StatusOK, status, list)
	var emails []string
	for _, u := range list["users"].([]any) {
		emails = append(emails, u.(map[string]any)["email"].(string))
	}
	assert.ElementsMatch(t, []string{adminEmail, "bob@example.com"}, emails)

	// The USER logs in; the ADMIN-only route refuses them, and the refusal
	// is an event in the audit trail.
	bob := api.login("bob@example.com", "bob's password")
	status, bobMe := api.call("GET", "/v1/me", bob, "")
	require.Equal(t, http.StatusOK, status, bobMe)
	assert.Equal(t, bobID, bobMe["user"].(map[string]any)["id"])
	status, refused := api.call("GET", "/v1/users", bob, "")
	require.Equal(t, http.StatusForbidden, status, refused)
	assert.Equal(t, "forbidden", errorCode(refused))
	var denials int
	require.NoError(t, c.pool.QueryRow(ctx, `SELECT count(*) FROM events
		WHERE event_type = 'security.access_denied' AND tenant_id = $1 AND metadata->'actor'->>'subject' = $2`,
		tenantID, bobID).Scan(&denials))
	assert.Equal(t, 1, denials)

	// An API token for Bob authenticates as Bob until it is revoked.
	status, issued := api.call("POST", "/v1/tokens", admin, `{"name":"bob's ci","user_id":"`+bobID+`"}`)
	require.Equal(t, http.StatusCreated, status, issued)
	secret := issued["token"].(string)
	assert.True(t, strings.HasPrefix(secret, "apiq_"))
	status, viaToken := api.call("GET", "/v1/me?min_position="+issued["position"].(string), secret, "")
	require.Equal(t, http.StatusOK, status, viaToken)
	assert.Equal(t, "api_token", viaToken["auth_method"])
	status, revoked := api.call("DELETE", "/v1/tokens/"+issued["id"].(string), admin, "")
	require.Equal(t, http.StatusOK, status, revoked)
	status, _ = api.call("GET", "/v1/users?min_position="+revoked["position"].(string), admin, "")
	require.Equal(t, http.StatusOK, status)
	status, rejected := api.call("GET", "/v1/me", secret, "")
	assert.Equal(t, http.StatusUnauthorized, status, rejected)

	// Another tenant's ADMIN cannot see or change Bob.
	other, err := c.cmds.createTenant.Handle(ctx, commands.Meta{Actor: commands.SystemActor(), RequestID: "other-tenant"},
		commands.CreateTenant{Name: "Other", Slug: "other", AdminEmail: "boss@other.example", AdminName: "Boss", AdminPassword: "other admin password"})
	require.NoError(t, err)
	status, _ = api.call("GET", "/v1/users?min_position="+other.Position.String(), admin, "")
	require.Equal(t, http.StatusOK, status)
	boss := api.login("boss@other.example", "other admin password")
	for _, method := range []string{"GET", "DELETE"} {
		status, body := api.call(method, "/v1/users/"+bobID, boss, "")
		assert.Equal(t, http.StatusNotFound, status, "%s: %v", method, body)
	}
	status, body := api.call("PATCH", "/v1/users/"+bobID, boss, `{"enabled":false}`)
	assert.Equal(t, http.StatusNotFound, status, body)

	// Disabling Bob locks him out at once (after the read model has it).
	status, disabled := api.call("PATCH", "/v1/users/"+bobID, admin, `{"enabled":false}`)
	require.Equal(t, http.StatusOK, status, disabled)
	status, _ = api.call("GET", "/v1/users/"+bobID+"?min_position="+disabled["position"].(string), admin, "")
	require.Equal(t, http.StatusOK, status)
	status, locked := api.call("GET", "/v1/me", bob, "")
	assert.Equal(t, http.StatusUnauthorized, status, locked)

	// Validation and unknown routes answer with the error body.
	status, invalid := api.call("POST", "/v1/users", admin, `{"email":"x@example.com","unknown":1}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "validation_failed", errorCode(invalid))
	status, missing := api.call("GET", "/v1/nothing", admin, "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_found", errorCode(missing))

	status, ready := api.call("GET", "/readyz", "", "")
	assert.Equal(t, http.StatusOK, status, ready)

	cancel()
	select {
	case err := <-served:
		assert.NoError(t, err, "a clean shutdown")
	case <-time.After(30 * time.Second):
		t.Fatal("the service did not stop")
	}
	assert.NotContains(t, logs.String(), adminPassword)
	assert.NotContains(t, logs.String(), secret)
	assert.NotContains(t, logs.String(), admin)
}

// TestBootstrapPrintsGeneratedCredentialsOnce checks that a first start
// without APIQ_BOOTSTRAP_PASSWORD prints working credentials, and a second
// start prints nothing.
func TestBootstrapPrintsGeneratedCredentialsOnce(t *testing.T) {
	ctx := context.Background()
	cfg, err := LoadConfig(envOf(map[string]string{
		"APIQ_DATABASE_URL": pgtest.NewDatabase(t),
		"APIQ_DATA_DIR":     t.TempDir(),
	}))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	require.NoError(t, prepareDatabase(ctx, cfg, logger))
	k, err := ensureKeys(cfg, logger)
	require.NoError(t, err)

	start := func() string {
		c, err := openCore(ctx, cfg, logger, k)
		require.NoError(t, err)
		defer c.Close()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.runner.Run(runCtx) }()
		var out bytes.Buffer
		require.NoError(t, bootstrap(ctx, c, &out))
		stop()
		<-done
		return out.String()
	}
	first := start()
	require.Contains(t, first, "email:    "+DefaultBootstrapEmail)
	fields := strings.Fields(first[strings.Index(first, "password:"):])
	password := fields[1]
	assert.Len(t, password, 26)

	assert.Empty(t, start(), "a second start finds the tenant and prints nothing")

	// The printed password logs in.
	c, err := openCore(ctx, cfg, logger, k)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.cmds.login.Handle(ctx, commands.Meta{RequestID: "login"}, commands.Login{Email: DefaultBootstrapEmail, Password: password})
	require.NoError(t, err)
	assert.NotEmpty(t, res.AccessToken)
}
