package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/http/server"
)

// lockedBuffer collects output written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// service is APIQ running from its composition root on a fresh database,
// allowed to call loopback servers, logging at debug level into a buffer,
// with a client that keeps every response body it received.
type service struct {
	t    *testing.T
	core *core
	base string
	logs *lockedBuffer
	// responses holds every response body, for secret hunts.
	responses *lockedBuffer
	admin     string // the bootstrapped ADMIN's access token
	tenantID  string
}

const (
	e2eAdminEmail    = "root@example.com"
	e2eAdminPassword = "the first admin's password"
)

func startService(t *testing.T, env map[string]string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	vars := map[string]string{
		"APIQ_DATABASE_URL":       pgtest.NewDatabase(t),
		"APIQ_DATA_DIR":           t.TempDir(),
		"APIQ_HTTP_ADDR":          "127.0.0.1:0",
		"APIQ_BOOTSTRAP_EMAIL":    e2eAdminEmail,
		"APIQ_BOOTSTRAP_PASSWORD": e2eAdminPassword,
		"APIQ_OUTBOUND_ALLOW":     "127.0.0.1/32",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfig(envOf(vars))
	require.NoError(t, err)
	s := &service{t: t, logs: &lockedBuffer{}, responses: &lockedBuffer{}}
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	require.NoError(t, prepareDatabase(ctx, cfg, logger))
	k, err := ensureKeys(cfg, logger)
	require.NoError(t, err)
	s.core, err = openCore(ctx, cfg, logger, k)
	require.NoError(t, err)
	handler, shutdownTracing, err := s.core.httpHandler(ctx, k)
	require.NoError(t, err)
	srvCfg := server.DefaultConfig(cfg.HTTPAddr)
	ln, err := server.Listen(srvCfg)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.core.serve(ctx, srvCfg, ln, handler, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("service stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the service did not stop")
		}
		_ = shutdownTracing(context.Background())
		s.core.Close()
	})
	s.base = "http://" + ln.Addr().String()
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "the server starts after bootstrapping")
	s.admin = s.login(e2eAdminEmail, e2eAdminPassword)
	_, me := s.json("GET", "/v1/me", s.admin, "")
	s.tenantID = me["tenant_id"].(string)
	return s
}

// send makes a request and returns the status, headers and body.
func (s *service) send(method, path, token string, body io.Reader, contentType string, headers ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	require.NoError(s.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	_, _ = s.responses.Write(append(raw, '\n'))
	return resp.StatusCode, resp.Header, raw
}

// json sends a JSON body ("" for none) and decodes the JSON answer.
func (s *service) json(method, path, token, body string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	contentType := ""
	if body != "" {
		r, contentType = strings.NewReader(body), "application/json"
	}
	status, _, raw := s.send(method, path, token, r, contentType, headers...)
	return status, decodeObject(s.t, raw)
}

func decodeObject(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return out
}

func (s *service) login(email, password string) string {
	s.t.Helper()
	status, body := s.json("POST", "/v1/auth/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	require.Equal(s.t, http.StatusOK, status, body)
	return body["access_token"].(string)
}

// user creates a user of the bootstrapped tenant with a role and logs in.
func (s *service) user(email, role string) string {
	s.t.Helper()
	status, body := s.json("POST", "/v1/users", s.admin,
		fmt.Sprintf(`{"email":%q,"name":"n","password":"a long password","role":%q}`, email, role))
	require.Equal(s.t, http.StatusCreated, status, body)
	status, _ = s.json("GET", "/v1/users?min_position="+body["position"].(string), s.admin, "")
	require.Equal(s.t, http.StatusOK, status)
	return s.login(email, "a long password")
}

// otherTenantAdmin creates a second tenant and logs its ADMIN in.
func (s *service) otherTenantAdmin() string {
	s.t.Helper()
	other, err := s.core.cmds.createTenant.Handle(context.Background(), commands.Meta{Actor: commands.SystemActor(), RequestID: "other-tenant"},
		commands.CreateTenant{Name: "Other", Slug: "other", AdminEmail: "boss@other.example", AdminName: "Boss", AdminPassword: "other admin password"})
	require.NoError(s.t, err)
	status, _ := s.json("GET", "/v1/users?min_position="+other.Position.String(), s.admin, "")
	require.Equal(s.t, http.StatusOK, status)
	return s.login("boss@other.example", "other admin password")
}

// register posts a JSON connection request and returns the connection.
func (s *service) register(token string, request map[string]any, headers ...string) (int, map[string]any) {
	s.t.Helper()
	raw, err := json.Marshal(request)
	require.NoError(s.t, err)
	return s.json("POST", "/v1/connections", token, string(raw), headers...)
}

// upload posts a multipart connection request (the document as a file part).
func (s *service) upload(method, path, token string, document []byte, fields ...string) (int, map[string]any) {
	s.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		require.NoError(s.t, w.WriteField(fields[i], fields[i+1]))
	}
	part, err := w.CreateFormFile("document", "openapi")
	require.NoError(s.t, err)
	_, err = part.Write(document)
	require.NoError(s.t, err)
	require.NoError(s.t, w.Close())
	status, _, raw := s.send(method, path, token, &buf, w.FormDataContentType())
	return status, decodeObject(s.t, raw)
}

// count runs a counting query on the service's database.
func (s *service) count(query string, args ...any) int {
	s.t.Helper()
	var n int
	require.NoError(s.t, s.core.pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// stored counts events, blobs and data keys.
func (s *service) stored() [3]int {
	return [3]int{s.count(`SELECT count(*) FROM events`), s.count(`SELECT count(*) FROM blobs`), s.count(`SELECT count(*) FROM data_keys`)}
}

func errorDetails(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return d
}

// provider is zitadel's example OpenID Provider in process: an OAuth2
// authorization server with a confidential web client whose secret the
// test chooses and whose redirect URI is APIQ's callback.
type provider struct {
	srv    *httptest.Server
	issuer string

	mu      sync.Mutex
	revoked []url.Values
}

// reserveProvider takes the provider's address now, so that it stops after
// a service started later (whose idle connections to it close first).
func reserveProvider(t *testing.T) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	return &provider{srv: srv, issuer: "http://" + srv.Listener.Addr().String()}
}

// start serves the provider with one confidential web client.
func (p *provider) start(clientID, clientSecret, redirectURI string) {
	store := storage.NewStorageWithClients(storage.NewUserStore(p.issuer), map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, redirectURI),
	})
	op := exampleop.SetupServer(p.issuer, store, slog.New(slog.DiscardHandler), false)
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/revoke" {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			p.mu.Lock()
			p.revoked = append(p.revoked, form)
			p.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		op.ServeHTTP(w, r)
	})
	p.srv.Start()
}

func (p *provider) url(path string) string { return p.issuer + path }

func (p *provider) revocations() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.revoked...)
}

var loginRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authorize plays the user's browser: it opens the authorisation URL, logs
// in as the provider's static user and returns where the provider sent it
// back to (APIQ's callback with code and state), without following it.
func (p *provider) authorize(t *testing.T, authorizeURL, callback string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(authorizeURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "login page: %s", page)
	m := loginRequestID.FindSubmatch(page)
	require.NotNil(t, m, "the login form: %s", page)
	resp, err = browser.PostForm(p.url("/login/username"), url.Values{
		"id": {string(m[1])}, "username": {"test-user@127.0.0.1"}, "password": {"verysecure"},
	})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	back := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(back, callback), "sent back to APIQ: %s", back)
	return back
}
