package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
)

// Audit page sizes.
const (
	DefaultAuditPageSize = 100
	MaxAuditPageSize     = 1000
	// auditExportPage is how many rows an export reads per query.
	auditExportPage = 2000
)

// AuditFilter selects a tenant's audit rows; zero fields do not filter.
type AuditFilter struct {
	// From and To bound the event time: From <= occurred_at < To.
	From, To time.Time
	// Actor is the actor's subject (a user id, "system").
	Actor string
	// Action is an event type.
	Action        string
	ResourceType  string
	ResourceID    string
	CorrelationID string
	// Text matches rows whose action, resource, stream, actor, request or
	// correlation id, or summary contains it (case-insensitive). It narrows
	// the other filters; on its own it scans the tenant's rows in order.
	Text string
}

// Validate reports a filter that cannot match anything sensible.
func (f AuditFilter) Validate() error {
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return domain.Invalid("to", "invalid_time_range", "to must be after from")
	}
	return nil
}

// AuditPage is one page of audit rows in chain order; Next is the cursor of
// the following page, empty on the last one.
type AuditPage struct {
	Rows []AuditRow
	Next string
}

// AuditChainHead is the last row of a tenant's chain.
type AuditChainHead struct {
	TenantID string
	// Sequence is the number of rows in the chain.
	Sequence int64
	Hash     []byte
	EventID  uuid.UUID
	Position eventstore.Position
}

// AuditEventsTable and AuditHeadsTable are the audit read model's tables.
func AuditEventsTable() string { return SchemaName(&AuditProjector{}) + ".audit_events" }

// AuditHeadsTable is the table of each tenant's chain head.
func AuditHeadsTable() string { return SchemaName(&AuditProjector{}) + ".audit_chain_heads" }

const auditColumns = `tenant_id, seq, event_id, commit_position, global_position, occurred_at, recorded_at,
	actor_subject, actor_role, auth_method, token_id, sso_issuer, sso_subject, client_ip, user_agent, request_id,
	action, resource_type, resource_id, stream_id, stream_version, outcome, correlation_id, causation_id,
	summary::text, prev_hash, hash`

func scanAuditRow(row pgx.Row) (AuditRow, error) {
	var (
		r               AuditRow
		commit, prepare int64
		summary         string
	)
	err := row.Scan(&r.TenantID, &r.Sequence, &r.EventID, &commit, &prepare, &r.OccurredAt, &r.RecordedAt,
		&r.Actor.Subject, &r.Actor.Role, &r.Actor.AuthMethod, &r.Actor.TokenID, &r.Actor.SSOIssuer, &r.Actor.SSOSubject,
		&r.ClientIP, &r.UserAgent, &r.RequestID, &r.Action, &r.ResourceType, &r.ResourceID, &r.StreamID,
		&r.StreamVersion, &r.Outcome, &r.CorrelationID, &r.CausationID, &summary, &r.PrevHash, &r.Hash)
	r.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	r.OccurredAt, r.RecordedAt = r.OccurredAt.UTC(), r.RecordedAt.UTC()
	r.Summary = []byte(summary)
	return r, err
}

// auditQuery builds the SELECT of a tenant's rows matching f with sequence
// numbers in (after, upTo] (upTo 0: no bound), in chain order.
func auditQuery(tenantID string, f AuditFilter, after, upTo int64, limit int) (string, []any) {
	args := []any{tenantID, after}
	where := []string{"tenant_id = $1", "seq > $2"}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if upTo > 0 {
		add("seq <= ?", upTo)
	}
	if !f.From.IsZero() {
		add("occurred_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < ?", f.To)
	}
	if f.Actor != "" {
		add("actor_subject = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.ResourceType != "" {
		add("resource_type = ?", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ?", f.ResourceID)
	}
	if f.CorrelationID != "" {
		add("correlation_id = ?", f.CorrelationID)
	}
	if f.Text != "" {
		add(`strpos(lower(action || ' ' || resource_type || ' ' || resource_id || ' ' || stream_id || ' ' ||
			actor_subject || ' ' || request_id || ' ' || correlation_id || ' ' || summary::text), lower(?)) > 0`, f.Text)
	}
	args = append(args, limit)
	return `SELECT ` + auditColumns + ` FROM ` + AuditEventsTable() + `
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY seq LIMIT $` + strconv.Itoa(len(args)), args
}

// ListAuditRows returns a page of the tenant's audit rows matching f, in
// chain (feed) order, after the cursor of a previous page (empty: the first).
func ListAuditRows(ctx context.Context, db QueryDB, tenantID string, f AuditFilter, limit int, cursor string) (AuditPage, error) {
	if err := f.Validate(); err != nil {
		return AuditPage{}, err
	}
	if limit <= 0 {
		limit = DefaultAuditPageSize
	}
	limit = min(limit, MaxAuditPageSize)
	after, err := decodeAuditCursor(cursor)
	if err != nil {
		return AuditPage{}, err
	}
	sql, args := auditQuery(tenantID, f, after, 0, limit+1)
	rows, err := db.Query(ctx, sql, args...)
	var list []AuditRow
	if err == nil {
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditRow, error) { return scanAuditRow(r) })
	}
	if isUndefinedTable(err) {
		return AuditPage{}, nil // the audit read model is not built yet
	}
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit rows: %w", err)
	}
	page := AuditPage{Rows: list}
	if len(list) > limit {
		page.Rows = list[:limit]
		page.Next = encodeAuditCursor(page.Rows[limit-1].Sequence)
	}
	return page, nil
}

// ExportAuditRows calls emit with every row of the tenant matching f, in
// chain order, up to the chain's head when the export starts. It reads a
// page at a time (memory stays flat whatever the range) and stops at the
// first error emit returns. It returns how many rows it emitted.
func ExportAuditRows(ctx context.Context, db QueryDB, tenantID string, f AuditFilter, emit func(AuditRow) error) (int64, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	head, found, err := GetAuditChainHead(ctx, db, tenantID)
	if err != nil || !found {
		return 0, err
	}
	var after, emitted int64
	for {
		sql, args := auditQuery(tenantID, f, after, head.Sequence, auditExportPage)
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			return emitted, fmt.Errorf("export audit rows: %w", err)
		}
		n := 0
		for rows.Next() {
			r, err := scanAuditRow(rows)
			if err != nil {
				rows.Close()
				return emitted, fmt.Errorf("export audit rows: %w", err)
			}
			if err := emit(r); err != nil {
				rows.Close()
				return emitted, err
			}
			after = r.Sequence
			emitted++
			n++
		}
		if err := rows.Err(); err != nil {
			return emitted, fmt.Errorf("export audit rows: %w", err)
		}
		if n < auditExportPage {
			return emitted, nil
		}
	}
}

// GetAuditChainHead returns the last row of the tenant's chain; found is
// false when the tenant has no audit rows (or the audit read model was never built).
func GetAuditChainHead(ctx context.Context, db QueryDB, tenantID string) (AuditChainHead, bool, error) {
	var (
		h               = AuditChainHead{TenantID: tenantID}
		commit, prepare int64
	)
	err := db.QueryRow(ctx, `SELECT seq, hash, event_id, commit_position, global_position
		FROM `+AuditHeadsTable()+` WHERE tenant_id = $1`, tenantID).Scan(&h.Sequence, &h.Hash, &h.EventID, &commit, &prepare)
	switch {
	case errors.Is(err, pgx.ErrNoRows), isUndefinedTable(err):
		return AuditChainHead{}, false, nil
	case err != nil:
		return AuditChainHead{}, false, fmt.Errorf("read audit chain head of %q: %w", tenantID, err)
	}
	h.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	return h, true, nil
}

const auditCursorPrefix = "seq:"

func encodeAuditCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeAuditCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	bad := domain.Invalid("cursor", "invalid_cursor", "the page cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(raw), auditCursorPrefix)
	if !ok {
		return 0, bad
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < 0 {
		return 0, bad
	}
	return seq, nil
}

// isUndefinedTable reports a query on a read model that was never built.
func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000")
}
