package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/http/auth"
	"github.com/apiq/apiq/http/telemetry"
)

// AuditTrail serves /v1/audit for the caller's tenant: its audit rows,
// exports, point-in-time replays, execution timelines, chain verification
// and signed heads. RecordAccess records each read first: auditors are audited.
type AuditTrail interface {
	// RecordAccess records that the request's actor read the audit trail
	// (query: events, export, stream, timeline, verify or heads).
	RecordAccess(ctx context.Context, meta eventstore.Metadata, query string, filters map[string]string) error
	// ListAuditEvents returns a page of rows in chain order and the cursor
	// of the next page ("" on the last).
	ListAuditEvents(ctx context.Context, tenantID string, f AuditFilter, limit int, cursor string) ([]AuditEvent, string, error)
	// ExportAuditEvents calls emit with every matching row in chain order,
	// reading a page at a time, and stops at emit's first error.
	ExportAuditEvents(ctx context.Context, tenantID string, f AuditFilter, emit func(AuditEvent) error) error
	// ReplayStream folds a stream of the tenant up to at ("": now; a
	// version; an RFC 3339 time); another tenant's stream is not found.
	ReplayStream(ctx context.Context, tenantID, stream, at string) (StreamReplay, error)
	// ExecutionTimeline reads the execution stream execution-<id>.
	ExecutionTimeline(ctx context.Context, tenantID, executionID string) (ExecutionTimeline, error)
	// VerifyChain recomputes the tenant's hash chain from the events and
	// checks it against the audit rows and the signed heads.
	VerifyChain(ctx context.Context, tenantID string) (ChainVerification, error)
	// SignedHeads returns the tenant's latest signed heads, newest first,
	// with the public key that verifies them.
	SignedHeads(ctx context.Context, tenantID string, limit int) (SignedHeads, error)
}

// AuditFilter selects audit rows; zero fields do not filter.
type AuditFilter struct {
	From, To      time.Time
	Actor         string
	Action        string
	ResourceType  string
	ResourceID    string
	CorrelationID string
	Text          string
}

// AuditEvent is one audit row as the API shows it.
type AuditEvent struct {
	EventID       string          `json:"event_id"`
	TenantID      string          `json:"tenant_id"`
	Sequence      int64           `json:"sequence,omitempty"`
	Position      string          `json:"position"`
	OccurredAt    time.Time       `json:"occurred_at"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Actor         AuditActor      `json:"actor"`
	ClientIP      string          `json:"client_ip,omitempty"`
	UserAgent     string          `json:"user_agent,omitempty"`
	RequestID     string          `json:"request_id,omitempty"`
	Action        string          `json:"action"`
	Resource      AuditResource   `json:"resource"`
	Stream        string          `json:"stream"`
	StreamVersion int64           `json:"stream_version"`
	Outcome       string          `json:"outcome"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	CausationID   string          `json:"causation_id,omitempty"`
	Summary       json.RawMessage `json:"summary"`
	PreviousHash  string          `json:"previous_hash,omitempty"`
	Hash          string          `json:"hash,omitempty"`
}

// AuditActor is who acted and how they authenticated.
type AuditActor struct {
	Subject    string `json:"subject,omitempty"`
	Role       string `json:"role,omitempty"`
	AuthMethod string `json:"auth_method,omitempty"`
	TokenID    string `json:"token_id,omitempty"`
	SSOIssuer  string `json:"sso_issuer,omitempty"`
	SSOSubject string `json:"sso_subject,omitempty"`
}

// AuditResource is what an event is about: its stream "<type>-<id>".
type AuditResource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// StreamReplay is a stream's state at a moment and the events that led there.
type StreamReplay struct {
	Stream   string        `json:"stream"`
	Resource AuditResource `json:"resource"`
	// Version is the last event folded (-1: none at that moment).
	Version int64      `json:"version"`
	At      *time.Time `json:"at,omitempty"`
	// State is the aggregate's secret-free state; null for kinds of
	// streams that have none (their events stand alone).
	State      any          `json:"state"`
	EventCount int64        `json:"event_count"`
	Events     []AuditEvent `json:"events"`
}

// ExecutionTimeline is an execution step by step.
type ExecutionTimeline struct {
	ExecutionID string          `json:"execution_id"`
	Stream      string          `json:"stream"`
	StartedAt   time.Time       `json:"started_at"`
	EndedAt     time.Time       `json:"ended_at"`
	DurationMS  int64           `json:"duration_ms"`
	LastAction  string          `json:"last_action"`
	Outcome     string          `json:"outcome"`
	Truncated   bool            `json:"truncated"`
	Entries     []TimelineEntry `json:"entries"`
}

// TimelineEntry is one event of an execution.
type TimelineEntry struct {
	Event AuditEvent `json:"event"`
	// Step is the event's step id, when it has one.
	Step      string `json:"step,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

// ChainVerification is the body of GET /v1/audit/verify.
type ChainVerification struct {
	Valid       bool        `json:"valid"`
	Checked     int64       `json:"checked"`
	Pending     int64       `json:"pending"`
	Pruned      int64       `json:"pruned"`
	SignedHeads int         `json:"signed_heads"`
	FirstBroken *ChainBreak `json:"first_broken"`
}

// ChainBreak is where a chain is first broken.
type ChainBreak struct {
	Sequence int64  `json:"sequence"`
	EventID  string `json:"event_id,omitempty"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
}

// SignedHeads is the body of GET /v1/audit/heads.
type SignedHeads struct {
	KeyID string `json:"key_id"`
	// PublicKey is the standard base64 Ed25519 key the heads verify with.
	PublicKey string                 `json:"public_key"`
	Heads     []auditsign.SignedHead `json:"heads"`
}

// auditFilterParams are the query parameters recorded with an audit read.
var auditFilterParams = []string{"from", "to", "actor", "action", "resource_type", "resource_id", "correlation_id",
	"q", "cursor", "limit", "format", "at"}

// recordAuditAccess records the read before anything is served; a read
// that cannot be recorded is refused.
func (s *server) recordAuditAccess(c *gin.Context, query string, extra map[string]string) bool {
	filters := map[string]string{}
	for _, name := range auditFilterParams {
		if v := c.Query(name); v != "" {
			filters[name] = v
		}
	}
	for k, v := range extra {
		filters[k] = v
	}
	if err := s.deps.Audit.RecordAccess(c.Request.Context(), s.metadata(c), query, filters); err != nil {
		s.fail(c, fmt.Errorf("record audit access: %w", err))
		return false
	}
	return true
}

// auditFilter reads the (validated) filter parameters.
func auditFilter(c *gin.Context) AuditFilter {
	f := AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), ResourceType: c.Query("resource_type"),
		ResourceID: c.Query("resource_id"), CorrelationID: c.Query("correlation_id"), Text: c.Query("q")}
	f.From, _ = time.Parse(time.RFC3339Nano, c.Query("from"))
	f.To, _ = time.Parse(time.RFC3339Nano, c.Query("to"))
	return f
}

func (s *server) listAuditEvents(c *gin.Context) {
	if !s.recordAuditAccess(c, "events", nil) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	events, next, err := s.deps.Audit.ListAuditEvents(c.Request.Context(), p.TenantID, auditFilter(c), limit, c.Query("cursor"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if events == nil {
		events = []AuditEvent{}
	}
	body := gin.H{"events": events}
	if next != "" {
		body["next_cursor"] = next
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, body)
}

// auditFlushEvery is how many exported rows are written between flushes.
const auditFlushEvery = 1000

func (s *server) exportAuditEvents(c *gin.Context) {
	format := c.DefaultQuery("format", "jsonl")
	if !s.recordAuditAccess(c, "export", map[string]string{"format": format}) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	w := &auditWriter{c: c, format: format}
	err := s.deps.Audit.ExportAuditEvents(c.Request.Context(), p.TenantID, auditFilter(c), w.write)
	if err == nil {
		err = w.finish()
	}
	if err == nil {
		return
	}
	if !w.started {
		s.fail(c, err)
		return
	}
	// The status is sent: a response cut short must not pass for a complete
	// one, so the connection is dropped instead of ending the body.
	s.deps.Logger.ErrorContext(c.Request.Context(), "audit export failed midway", slog.String("error", err.Error()),
		slog.String("request_id", telemetry.RequestIDFrom(c)), slog.Int64("rows_written", w.rows))
	_ = c.Error(err)
	c.Abort()
	dropConnection(c.Writer)
}

// dropConnection closes the connection under a response whose body has
// begun (gin refuses to hijack then, the server beneath it does not).
func dropConnection(w http.ResponseWriter) {
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// auditWriter streams an export as CSV or JSON lines, sending the headers
// with the first row.
type auditWriter struct {
	c       *gin.Context
	format  string
	started bool
	rows    int64
	buf     *bufio.Writer
	csv     *csv.Writer
	json    *json.Encoder
}

// auditCSVHeader names the CSV columns.
var auditCSVHeader = []string{"sequence", "event_id", "tenant_id", "position", "occurred_at", "recorded_at",
	"actor_subject", "actor_role", "auth_method", "token_id", "sso_issuer", "sso_subject", "client_ip", "user_agent",
	"request_id", "action", "resource_type", "resource_id", "stream", "stream_version", "outcome", "correlation_id",
	"causation_id", "summary", "previous_hash", "hash"}

func (w *auditWriter) start() error {
	w.started = true
	h := w.c.Writer.Header()
	ext := "jsonl"
	h.Set("Content-Type", "application/x-ndjson")
	if w.format == "csv" {
		ext = "csv"
		h.Set("Content-Type", "text/csv; charset=utf-8")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`,
		time.Now().UTC().Format("20060102T150405Z"), ext))
	w.c.Status(http.StatusOK)
	w.buf = bufio.NewWriterSize(w.c.Writer, 64<<10)
	if w.format == "csv" {
		w.csv = csv.NewWriter(w.buf)
		return w.csv.Write(auditCSVHeader)
	}
	w.json = json.NewEncoder(w.buf)
	return nil
}

func (w *auditWriter) write(e AuditEvent) error {
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	var err error
	if w.csv != nil {
		err = w.csv.Write(auditCSVRecord(e))
	} else {
		err = w.json.Encode(e)
	}
	if err != nil {
		return fmt.Errorf("write audit export: %w", err)
	}
	w.rows++
	if w.rows%auditFlushEvery == 0 {
		return w.flush()
	}
	return nil
}

func (w *auditWriter) flush() error {
	if w.csv != nil {
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return fmt.Errorf("write audit export: %w", err)
		}
	}
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("write audit export: %w", err)
	}
	w.c.Writer.Flush()
	return nil
}

// finish sends what is buffered (the headers alone for an empty export).
func (w *auditWriter) finish() error {
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	return w.flush()
}

func auditCSVRecord(e AuditEvent) []string {
	rec := []string{strconv.FormatInt(e.Sequence, 10), e.EventID, e.TenantID, e.Position,
		e.OccurredAt.UTC().Format(time.RFC3339Nano), e.RecordedAt.UTC().Format(time.RFC3339Nano),
		e.Actor.Subject, e.Actor.Role, e.Actor.AuthMethod, e.Actor.TokenID, e.Actor.SSOIssuer, e.Actor.SSOSubject,
		e.ClientIP, e.UserAgent, e.RequestID, e.Action, e.Resource.Type, e.Resource.ID, e.Stream,
		strconv.FormatInt(e.StreamVersion, 10), e.Outcome, e.CorrelationID, e.CausationID, string(e.Summary),
		e.PreviousHash, e.Hash}
	for i, v := range rec {
		rec[i] = neutraliseFormula(v)
	}
	return rec
}

// neutraliseFormula keeps spreadsheets from running a cell as a formula
// (OWASP CSV injection): a value starting with =, +, -, @, tab or carriage
// return gets a leading apostrophe.
func neutraliseFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func (s *server) replayAuditStream(c *gin.Context) {
	if !s.recordAuditAccess(c, "stream", map[string]string{"stream": c.Param("stream")}) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	replay, err := s.deps.Audit.ReplayStream(c.Request.Context(), p.TenantID, c.Param("stream"), c.Query("at"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if replay.Events == nil {
		replay.Events = []AuditEvent{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, replay)
}

func (s *server) executionTimeline(c *gin.Context) {
	if !s.recordAuditAccess(c, "timeline", map[string]string{"execution_id": c.Param("id")}) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	tl, err := s.deps.Audit.ExecutionTimeline(c.Request.Context(), p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if tl.Entries == nil {
		tl.Entries = []TimelineEntry{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, tl)
}

func (s *server) verifyAuditChain(c *gin.Context) {
	if !s.recordAuditAccess(c, "verify", nil) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	v, err := s.deps.Audit.VerifyChain(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, v)
}

// DefaultSignedHeads is how many signed heads GET /v1/audit/heads returns by default.
const DefaultSignedHeads = 20

func (s *server) auditHeads(c *gin.Context) {
	if !s.recordAuditAccess(c, "heads", nil) {
		return
	}
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	if limit <= 0 {
		limit = DefaultSignedHeads
	}
	heads, err := s.deps.Audit.SignedHeads(c.Request.Context(), p.TenantID, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	if heads.Heads == nil {
		heads.Heads = []auditsign.SignedHead{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, heads)
}
