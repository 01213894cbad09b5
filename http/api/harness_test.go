package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/health"
	"github.com/apiq/apiq/http/idempotency"
	"github.com/apiq/apiq/http/openapi"
	"github.com/apiq/apiq/http/telemetry"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is the real router over a fresh database with a fake identity core.
type harness struct {
	t        *testing.T
	handler  http.Handler
	identity *fakeIdentity
	// connections is the fake connection side.
	connections *fakeConnections
	// audit is the fake audit trail.
	audit *fakeAudit
	// executions is the fake execution side.
	executions *fakeExecutions
	plans      *fakePlans // the fake plan side
	logs       *syncBuffer
	lag        map[string]int64
}

func newHarness(t *testing.T, tune func(*Config, *Deps)) *harness {
	t.Helper()
	pool := pgtest.NewPool(t)
	store, err := idempotency.NewStore(pool, bytes.Repeat([]byte{7}, idempotency.SealKeySize), time.Minute)
	require.NoError(t, err)
	doc, err := openapi.Load(context.Background())
	require.NoError(t, err)
	latest, err := postgres.LatestVersion()
	require.NoError(t, err)

	h := &harness{t: t, identity: newFakeIdentity(), connections: newFakeConnections(), audit: newFakeAudit(),
		executions: newFakeExecutions(), plans: newFakePlans(), logs: &syncBuffer{}, lag: map[string]int64{"users": 0}}
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 4 << 10
	deps := Deps{
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:       prometheus.NewRegistry(),
		TracerProvider: noop.NewTracerProvider(),
		Propagator:     telemetry.Propagator(),
		Document:       doc,
		Readiness: []health.Check{
			health.Database(pool),
			health.Migrations(health.PostgresMigrationVersion(pool), latest),
			health.ProjectionLag(func(context.Context) (map[string]int64, error) { return h.lag, nil }, 100),
		},
		Authenticator: h.identity,
		Users:         h.identity,
		Denials:       h.identity,
		Idempotency:   store,
		Sessions:      h.identity,
		UserCommands:  h.identity,
		UserQueries:   h.identity,
		TokenCommands: h.identity,
		Positions:     h.identity,

		ConnectionCommands: h.connections,
		ConnectionQueries:  h.connections,
		Audit:              h.audit,
		Catalogue:          pgCatalogue{pool: pool},
		ExecutionCommands:  h.executions,
		ExecutionQueries:   h.executions,
		Plans:              h.plans,
		ErrorRules:         []apierror.Rule{{Target: errUserNotFound, Status: http.StatusNotFound, Code: apierror.CodeNotFound, Message: "user not found"}},
	}
	if tune != nil {
		tune(&cfg, &deps)
	}
	engine, err := New(cfg, deps)
	require.NoError(t, err)
	h.handler = engine
	return h
}

// do sends a request; headers come in name, value pairs.
func (h *harness) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// newChunkedRequest builds a JSON request without a Content-Length.
func newChunkedRequest(method, path, body string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, path, io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// serve sends a prepared request.
func (h *harness) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// panickingQueries panics on ListUsers.
type panickingQueries struct{ UserQueries }

func (panickingQueries) ListUsers(context.Context, string, Page) ([]User, string, error) {
	panic(errTestBoom)
}

// asAdmin and asUser are the bearer headers of the fake's users.
var (
	asAdmin = []string{"Authorization", "Bearer token-admin"}
	asUser  = []string{"Authorization", "Bearer token-alice"}
)

func with(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

// errorBody decodes the standard error body, failing the test if the
// response does not have exactly that shape.
func errorBody(t *testing.T, rec *httptest.ResponseRecorder) apierror.BodyError {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"), rec.Body.String())
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var body struct {
		Error struct {
			Code    apierror.Code   `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	require.NoError(t, dec.Decode(&body), rec.Body.String())
	require.NotEmpty(t, body.Error.Code)
	require.NotEmpty(t, body.Error.Message)
	var details any
	if len(body.Error.Details) > 0 {
		require.NoError(t, json.Unmarshal(body.Error.Details, &details))
	}
	return apierror.BodyError{Code: body.Error.Code, Message: body.Error.Message, Details: details}
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), rec.Body.String())
	return m
}

var errTestBoom = errors.New("boom")
