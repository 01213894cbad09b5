package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/openapi"
)

// auditAccess is one read the fake audit trail recorded.
type auditAccess struct {
	meta    eventstore.Metadata
	query   string
	filters map[string]string
}

// fakeAudit is an in-memory audit trail: rows is what every list and
// export returns (filtered by nothing), in order.
type fakeAudit struct {
	mu       sync.Mutex
	accesses []auditAccess
	rows     []AuditEvent
	// recordErr and exportErrAfter make RecordAccess fail, and the export
	// fail after that many rows (-1: never).
	recordErr      error
	exportErrAfter int
	tenants        []string
	filters        []AuditFilter
}

func newFakeAudit() *fakeAudit { return &fakeAudit{exportErrAfter: -1} }

func (f *fakeAudit) RecordAccess(_ context.Context, meta eventstore.Metadata, query string, filters map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recordErr != nil {
		return f.recordErr
	}
	f.accesses = append(f.accesses, auditAccess{meta: meta, query: query, filters: filters})
	return nil
}

func (f *fakeAudit) seen(tenantID string, filter AuditFilter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants = append(f.tenants, tenantID)
	f.filters = append(f.filters, filter)
}

func (f *fakeAudit) ListAuditEvents(_ context.Context, tenantID string, filter AuditFilter, limit int, cursor string) ([]AuditEvent, string, error) {
	f.seen(tenantID, filter)
	start := 0
	if cursor != "" {
		if _, err := fmt.Sscanf(cursor, "c%d", &start); err != nil {
			return nil, "", domain.Invalid("cursor", "invalid_cursor", "bad cursor")
		}
	}
	if limit <= 0 {
		limit = 100
	}
	end := min(start+limit, len(f.rows))
	next := ""
	if end < len(f.rows) {
		next = fmt.Sprintf("c%d", end)
	}
	return f.rows[start:end], next, nil
}

var errExportBroke = errors.New("database went away")

func (f *fakeAudit) ExportAuditEvents(_ context.Context, tenantID string, filter AuditFilter, emit func(AuditEvent) error) error {
	f.seen(tenantID, filter)
	for i, r := range f.rows {
		if i == f.exportErrAfter {
			return errExportBroke
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	if f.exportErrAfter == len(f.rows) {
		return errExportBroke
	}
	return nil
}

var errNoSuchStream = domain.NewError(domain.ErrNotFound, "stream_not_found", "stream not found")

func (f *fakeAudit) ReplayStream(_ context.Context, tenantID, stream, at string) (StreamReplay, error) {
	f.seen(tenantID, AuditFilter{})
	if stream != "user-u1" {
		return StreamReplay{}, errNoSuchStream
	}
	return StreamReplay{Stream: stream, Resource: AuditResource{Type: "user", ID: "u1"}, Version: 0,
		State: map[string]any{"kind": "user", "id": "u1", "at": at}, EventCount: 1, Events: f.rows[:1]}, nil
}

func (f *fakeAudit) ExecutionTimeline(_ context.Context, tenantID, id string) (ExecutionTimeline, error) {
	f.seen(tenantID, AuditFilter{})
	if id != "e1" {
		return ExecutionTimeline{}, errNoSuchStream
	}
	at := f.rows[0].OccurredAt
	return ExecutionTimeline{ExecutionID: id, Stream: "execution-e1", StartedAt: at, EndedAt: at, LastAction: "execution.started",
		Outcome: "success", Entries: []TimelineEntry{{Event: f.rows[0], Step: "s1"}}}, nil
}

func (f *fakeAudit) VerifyChain(_ context.Context, tenantID string) (ChainVerification, error) {
	f.seen(tenantID, AuditFilter{})
	return ChainVerification{Valid: false, Checked: 3, FirstBroken: &ChainBreak{Sequence: 2, Reason: "hash_mismatch"}}, nil
}

func (f *fakeAudit) SignedHeads(_ context.Context, tenantID string, limit int) (SignedHeads, error) {
	f.seen(tenantID, AuditFilter{})
	heads := []auditsign.SignedHead{{Head: auditsign.Head{TenantID: tenantID, RowCount: 3, LastEventID: [16]byte{1},
		Position: "00000000000000010000000000000002", Hash: strings.Repeat("ab", 32), SignedAt: f.rows[0].OccurredAt},
		KeyID: "k", Signature: "c2ln"}}
	return SignedHeads{KeyID: "k", PublicKey: "cHVi", Heads: heads[:min(limit, 1)]}, nil
}

func (f *fakeAudit) recorded() []auditAccess {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]auditAccess(nil), f.accesses...)
}

// auditRows makes n rows; the user agent of row 1 looks like a formula.
func auditRows(n int) []AuditEvent {
	at := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]AuditEvent, n)
	for i := range out {
		out[i] = AuditEvent{EventID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), TenantID: "tenant-1", Sequence: int64(i + 1),
			Position: "00000000000000010000000000000002", OccurredAt: at.Add(time.Duration(i) * time.Second), RecordedAt: at,
			Actor:  AuditActor{Subject: "admin", Role: "ADMIN", AuthMethod: "password"},
			Action: "user.logged_in", Resource: AuditResource{Type: "user", ID: "admin"}, Stream: "user-admin",
			StreamVersion: int64(i), Outcome: "success", Summary: json.RawMessage(`{"method":"password"}`),
			PreviousHash: strings.Repeat("0", 64), Hash: strings.Repeat("1", 64), UserAgent: "curl/8"}
	}
	if n > 1 {
		out[1].UserAgent = "=HYPERLINK(\"http://evil\")"
	}
	return out
}

func newAuditHarness(t *testing.T, rows int) (*harness, []string) {
	t.Helper()
	h := newHarness(t, nil)
	h.audit.rows = auditRows(rows)
	h.identity.mu.Lock()
	h.identity.users["audrey"] = User{ID: "audrey", Role: auth.RoleAuditor, Enabled: true}
	h.identity.mu.Unlock()
	return h, []string{"Authorization", "Bearer token-audrey"}
}

var auditReads = []string{
	"/v1/audit/events", "/v1/audit/export", "/v1/audit/streams/user-u1", "/v1/audit/executions/e1/timeline",
	"/v1/audit/verify", "/v1/audit/heads",
}

func TestAuditRoutesAreForAuditorsAndAdmins(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 3)
	for _, path := range auditReads {
		assert.Equal(t, http.StatusForbidden, h.do("GET", path, "", asUser...).Code, "a USER never reads %s", path)
		assert.Equal(t, http.StatusOK, h.do("GET", path, "", asAuditor...).Code, "an AUDITOR reads %s", path)
		assert.Equal(t, http.StatusOK, h.do("GET", path, "", asAdmin...).Code, "an ADMIN reads %s", path)
		assert.Equal(t, http.StatusUnauthorized, h.do("GET", path, "").Code, path)
	}
	assert.Equal(t, len(auditReads), h.identity.denialCount(), "every refusal is recorded")
	accesses := h.audit.recorded()
	require.Len(t, accesses, 2*len(auditReads), "every read is recorded, refused ones are not reads")
	for _, a := range accesses {
		assert.Equal(t, "tenant-1", a.meta.TenantID)
		assert.Contains(t, []string{"audrey", "admin"}, a.meta.Actor.Subject)
		assert.NotEmpty(t, a.meta.RequestID)
	}
	for _, tenant := range h.audit.tenants {
		assert.Equal(t, "tenant-1", tenant, "every read is scoped to the caller's tenant")
	}
}

func TestAuditReadsAreRecordedWithTheirFilters(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 3)
	q := url.Values{"from": {"2031-01-01T00:00:00Z"}, "to": {"2031-02-01T00:00:00Z"}, "actor": {"u1"}, "action": {"user.created"},
		"resource_type": {"user"}, "resource_id": {"u1"}, "correlation_id": {"c1"}, "q": {"needle"}, "limit": {"2"}}
	rec := h.do("GET", "/v1/audit/events?"+q.Encode(), "", asAuditor...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	body := decodeJSON(t, rec)
	assert.Len(t, body["events"], 2)
	assert.Equal(t, "c2", body["next_cursor"])
	require.Len(t, h.audit.filters, 1)
	assert.Equal(t, AuditFilter{From: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC),
		Actor: "u1", Action: "user.created", ResourceType: "user", ResourceID: "u1", CorrelationID: "c1", Text: "needle"}, h.audit.filters[0])

	last := decodeJSON(t, h.do("GET", "/v1/audit/events?limit=2&cursor=c2", "", asAuditor...))
	assert.Len(t, last["events"], 1)
	assert.NotContains(t, last, "next_cursor")

	h.do("GET", "/v1/audit/export?format=csv&actor=u2", "", asAuditor...)
	h.do("GET", "/v1/audit/streams/user-u1?at=3", "", asAuditor...)
	h.do("GET", "/v1/audit/executions/e1/timeline", "", asAuditor...)
	accesses := h.audit.recorded()
	require.Len(t, accesses, 5)
	assert.Equal(t, "events", accesses[0].query)
	assert.Equal(t, map[string]string{"from": "2031-01-01T00:00:00Z", "to": "2031-02-01T00:00:00Z", "actor": "u1",
		"action": "user.created", "resource_type": "user", "resource_id": "u1", "correlation_id": "c1", "q": "needle", "limit": "2"},
		accesses[0].filters)
	assert.Equal(t, map[string]string{"limit": "2", "cursor": "c2"}, accesses[1].filters)
	assert.Equal(t, auditAccess{meta: accesses[2].meta, query: "export", filters: map[string]string{"format": "csv", "actor": "u2"}}, accesses[2])
	assert.Equal(t, map[string]string{"stream": "user-u1", "at": "3"}, accesses[3].filters)
	assert.Equal(t, map[string]string{"execution_id": "e1"}, accesses[4].filters)
}

func TestAuditReadThatCannotBeRecordedIsRefused(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 3)
	h.audit.recordErr = errors.New("event store down")
	for _, path := range auditReads {
		rec := h.do("GET", path, "", asAuditor...)
		assert.Equal(t, http.StatusInternalServerError, rec.Code, path)
		assert.NotContains(t, rec.Body.String(), "user.logged_in", "nothing is served unrecorded")
	}
	assert.Empty(t, h.audit.tenants)
}

func TestAuditValidation(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 1)
	for _, path := range []string{
		"/v1/audit/events?from=yesterday", "/v1/audit/events?limit=0", "/v1/audit/events?limit=1001",
		"/v1/audit/export?format=xml", "/v1/audit/heads?limit=0", "/v1/audit/events?q=",
	} {
		rec := h.do("GET", path, "", asAuditor...)
		assert.Equal(t, http.StatusBadRequest, rec.Code, path)
		assert.Equal(t, "validation_failed", string(errorBody(t, rec).Code), path)
	}
	assert.Empty(t, h.audit.recorded(), "a refused request reads nothing")
	rec := h.do("GET", "/v1/audit/events?cursor=bogus", "", asAuditor...)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	for _, path := range []string{"/v1/audit/streams/user-other", "/v1/audit/executions/e2/timeline"} {
		rec := h.do("GET", path, "", asAuditor...)
		assert.Equal(t, http.StatusNotFound, rec.Code, path)
		assert.Equal(t, "not_found", string(errorBody(t, rec).Code))
	}
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 2500)

	rec := h.do("GET", "/v1/audit/export?format=csv", "", asAuditor...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Regexp(t, `^attachment; filename="audit-\d{8}T\d{6}Z\.csv"$`, rec.Header().Get("Content-Disposition"))
	records, err := csv.NewReader(rec.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 2501)
	assert.Equal(t, auditCSVHeader, records[0])
	assert.Equal(t, []string{"1", "00000000-0000-0000-0000-000000000000", "tenant-1"}, records[1][:3])
	assert.Equal(t, `{"method":"password"}`, records[1][23])
	assert.Equal(t, `'=HYPERLINK("http://evil")`, records[2][13], "a formula is neutralised")

	rec = h.do("GET", "/v1/audit/export", "", asAuditor...)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/x-ndjson", rec.Header().Get("Content-Type"))
	lines := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
	require.Len(t, lines, 2500)
	var first AuditEvent
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	assert.Equal(t, h.audit.rows[0], first)

	h.audit.rows = nil
	rec = h.do("GET", "/v1/audit/export?format=csv", "", asAuditor...)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, strings.Join(auditCSVHeader, ",")+"\n", rec.Body.String(), "an empty export has its header line")
	rec = h.do("GET", "/v1/audit/export", "", asAuditor...)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Body.String())
}

func TestAuditExportFailures(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 3)
	h.audit.exportErrAfter = 0
	rec := h.do("GET", "/v1/audit/export?format=csv", "", asAuditor...)
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "a failure before the first row is an error response")
	assert.Equal(t, "internal", string(errorBody(t, rec).Code))

	// Midway (before and after rows were flushed), the response is aborted
	// rather than ended as if complete.
	h.audit.rows = auditRows(2500)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	for _, after := range []int{2, 1500} {
		h.audit.exportErrAfter = after
		req, err := http.NewRequest("GET", srv.URL+"/v1/audit/export?format=csv", nil)
		require.NoError(t, err)
		req.Header.Set(asAuditor[0], asAuditor[1])
		resp, err := http.DefaultClient.Do(req)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		assert.Error(t, err, "the client sees a broken response after %d rows", after)
		if after > auditFlushEvery {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Greater(t, bytes.Count(body, []byte("\n")), auditFlushEvery, "rows flushed before the failure arrived")
		}
	}
	assert.Contains(t, h.logs.String(), "audit export failed midway")
}

// TestAuditResponsesMatchTheDocument validates every JSON audit response
// against its operation in the OpenAPI document.
func TestAuditResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	h, asAuditor := newAuditHarness(t, 3)
	doc, err := openapi.Load(context.Background())
	require.NoError(t, err)
	cases := []struct{ path, route string }{
		{"/v1/audit/events", "/v1/audit/events"},
		{"/v1/audit/streams/user-u1?at=2031-01-01T00:00:00Z", "/v1/audit/streams/{stream}"},
		{"/v1/audit/executions/e1/timeline", "/v1/audit/executions/{id}/timeline"},
		{"/v1/audit/verify", "/v1/audit/verify"},
		{"/v1/audit/heads", "/v1/audit/heads"},
	}
	for _, tc := range cases {
		rec := h.do("GET", tc.path, "", asAuditor...)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		item := doc.Spec().Paths.Find(tc.route)
		require.NotNil(t, item, tc.route)
		req := httptest.NewRequest("GET", tc.path, nil)
		params := map[string]string{}
		if strings.HasPrefix(tc.route, "/v1/audit/streams/") {
			params["stream"] = "user-u1"
		}
		if strings.HasPrefix(tc.route, "/v1/audit/executions/") {
			params["id"] = "e1"
		}
		input := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
				Route: &routers.Route{Spec: doc.Spec(), Path: tc.route, PathItem: item, Method: "GET", Operation: item.Get}},
			Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input), "%s: %s", tc.path, rec.Body.String())
	}
}
