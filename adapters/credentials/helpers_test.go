package credentials_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mccutchen/go-httpbin/v2/httpbin"
	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// env is one test's world: a fresh database, a vault, the outbound client
// (allowed to reach loopback), the event store, and a Manager on a clock the
// test moves.
type env struct {
	pool     *pgxpool.Pool
	vault    *vault.Vault
	outbound *outbound.Client
	events   *pgstore.Store
	tokens   *credentials.StreamTokenStore
	clock    *clock
	manager  *credentials.Manager
	tenant   string
	// logs keeps every line the Manager and the outbound client logged.
	logs   *logBuffer
	logger *slog.Logger
}

// logBuffer is a log destination safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := pgtest.NewPool(t)
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, []byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	v, err := vault.New(pool, ring, vault.Options{})
	require.NoError(t, err)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := outbound.New(outbound.Config{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Retry: outbound.RetryConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}, logger, nil)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	events, err := pgstore.New(pool)
	require.NoError(t, err)
	tokens, err := credentials.NewStreamTokenStore(events)
	require.NoError(t, err)
	e := &env{pool: pool, vault: v, outbound: client, events: events, tokens: tokens, clock: &clock{}, tenant: "tenant-1",
		logs: logs, logger: logger}
	e.manager = e.newManager(t)
	return e
}

// newManager returns another Manager on the same database, vault and
// stream: what a second process would run.
func (e *env) newManager(t *testing.T) *credentials.Manager {
	t.Helper()
	m, err := credentials.New(credentials.Config{
		Vault: e.vault, Outbound: e.outbound, DB: e.pool, Tokens: e.tokens,
		Logger: e.logger, Now: e.clock.Now,
	})
	require.NoError(t, err)
	return m
}

// clock is real time moved forward by what the test skips.
type clock struct{ skipped atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.skipped.Load())) }

func (c *clock) Skip(d time.Duration) { c.skipped.Add(int64(d)) }

// register appends a connection's first events (registered, credentials
// set), as the connection commands would.
func (e *env) register(t *testing.T, connectionID string, creds connection.Credentials) {
	t.Helper()
	e.append(t, connectionID, eventstore.NoStream,
		connection.Registered{ConnectionID: connectionID, Name: connectionID, BaseURL: "http://127.0.0.1"},
		connection.CredentialsSet{Credentials: creds})
}

func (e *env) append(t *testing.T, connectionID string, expected int64, events ...interface {
	EventType() string
	SchemaVersion() int
}) {
	t.Helper()
	stream := connection.StreamPrefix + connectionID
	request := uuid.NewString()
	data := make([]eventstore.EventData, len(events))
	for i, ev := range events {
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		data[i] = eventstore.EventData{
			ID: eventstore.EventID(e.tenant, stream, request, i), Type: ev.EventType(), Data: raw,
			Metadata: eventstore.Metadata{TenantID: e.tenant, Actor: eventstore.Actor{Subject: "u1", Role: "ADMIN"},
				RequestID: request, SchemaVersion: ev.SchemaVersion()},
		}
	}
	_, err := e.events.Append(context.Background(), stream, expected, data)
	require.NoError(t, err)
}

// streamOf returns the connection's recorded events.
func (e *env) streamOf(t *testing.T, connectionID string) []eventstore.RecordedEvent {
	t.Helper()
	recorded, err := e.events.ReadStream(context.Background(), connection.StreamPrefix+connectionID, 0, 0)
	require.NoError(t, err)
	return recorded
}

func newHTTPBin(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpbin.New())
	t.Cleanup(srv.Close)
	return srv
}

// provider is zitadel's example OpenID Provider, in process, with a tap
// that counts token requests by grant and keeps the tokens it issued.
type provider struct {
	srv    *httptest.Server
	issuer string

	mu      sync.Mutex
	grants  map[string]int
	issued  []string
	revoked []url.Values
	auth    []string // Authorization headers of revocation requests
}

const (
	webClientID      = "apiq"
	webClientSecret  = "apiq-secret"
	serviceClientID  = "sid1" // the example storage's client-credentials client
	serviceSecret    = "verysecret"
	redirectURI      = "http://127.0.0.1:9/v1/oauth/callback"
	providerPassword = "verysecure"
)

func newProvider(t *testing.T) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	p := &provider{srv: srv, issuer: "http://" + srv.Listener.Addr().String(), grants: map[string]int{}}
	store := storage.NewStorageWithClients(storage.NewUserStore(p.issuer), map[string]*storage.Client{
		webClientID: storage.WebClient(webClientID, webClientSecret, redirectURI),
	})
	srv.Config.Handler = p.tap(exampleop.SetupServer(p.issuer, store, nil, false))
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

func (p *provider) url(path string) string { return p.issuer + path }

// tap records token and revocation requests on their way through.
func (p *provider) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || (r.URL.Path != "/oauth/token" && r.URL.Path != "/revoke") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path == "/revoke" {
			p.mu.Lock()
			p.revoked = append(p.revoked, form)
			p.auth = append(p.auth, r.Header.Get("Authorization"))
			p.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		rec := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		var answer struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &answer)
		p.mu.Lock()
		p.grants[form.Get("grant_type")]++
		if answer.AccessToken != "" {
			p.issued = append(p.issued, answer.AccessToken)
		}
		p.mu.Unlock()
	})
}

func (p *provider) grantCount(grant string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.grants[grant]
}

func (p *provider) lastIssued() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.issued) == 0 {
		return ""
	}
	return p.issued[len(p.issued)-1]
}

type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authorize plays the user's browser: it opens the authorize URL, fills in
// the provider's login form and returns where the provider redirected back
// to (the callback URL with code and state).
func (p *provider) authorize(t *testing.T, authorizeURL, username, password string) *url.URL {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(authorizeURL)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "login page: %s", page)
	m := hiddenID.FindSubmatch(page)
	require.NotNil(t, m, "the login page has the form with the request id: %s", page)
	require.Contains(t, string(page), `action="/login/username"`)

	resp, err = browser.PostForm(p.url("/login/username"), url.Values{
		"id": {string(m[1])}, "username": {username}, "password": {password},
	})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "login: %s", body)
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(back.String(), redirectURI), "redirected back to APIQ: %s", back)
	return back
}

// username is the example provider's static user on this host.
func (p *provider) username() string { return "test-user@127.0.0.1" }

// newAPI starts a resource server that accepts a bearer token only while the
// provider says it is active (RFC 7662 introspection, as the provider's own
// client) and answers 401 with an RFC 6750 challenge otherwise.
func (p *provider) newAPI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func() {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			refuse()
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.url("/oauth/introspect"),
			strings.NewReader(url.Values{"token": {token}}.Encode()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.SetBasicAuth(webClientID, webClientSecret)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		var info struct {
			Active  bool   `json:"active"`
			Subject string `json:"sub"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || !info.Active {
			refuse()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": info.Subject})
	}))
	t.Cleanup(srv.Close)
	return srv
}
