package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
)

// Reasons a chain is broken, in AuditBreak.Reason.
const (
	// BreakRowMissing: an event the audit projector has applied has no row
	// at its place in the chain (the row was deleted, or moved).
	BreakRowMissing = "row_missing"
	// BreakRowWithoutEvent: a row's place in the chain has no event (the
	// event was deleted, or the row invented).
	BreakRowWithoutEvent = "row_without_event"
	// BreakEventMismatch: the row at this place records another event
	// (rows or events were reordered or replaced).
	BreakEventMismatch = "event_mismatch"
	// BreakHashMismatch: the row's hashes differ from the chain recomputed
	// from the events (an event or a hash was altered).
	BreakHashMismatch = "hash_mismatch"
	// BreakRowAltered: a field of the row differs from what the event says.
	BreakRowAltered = "row_altered"
	// BreakEventUnreadable: an event's metadata is not what APIQ writes.
	BreakEventUnreadable = "event_unreadable"
	// BreakSignedHeadMismatch: the chain recomputed from the events differs
	// from a signed head at the head's row count.
	BreakSignedHeadMismatch = "signed_head_mismatch"
	// BreakSignedHeadBeyondLog: a signed head covers more events than the
	// event log holds (events were deleted).
	BreakSignedHeadBeyondLog = "signed_head_beyond_log"
	// BreakSignatureInvalid: a signed head's signature does not verify.
	BreakSignatureInvalid = "signature_invalid"
	// BreakSignedHeadRemoved: the journal holds a signed head the database
	// no longer has.
	BreakSignedHeadRemoved = "signed_head_removed"
)

// AuditBreak is the first place a tenant's chain is broken.
type AuditBreak struct {
	TenantID string
	// Sequence is the place in the chain (1-based).
	Sequence int64
	// EventID is the event (or row) found there, when there is one.
	EventID uuid.UUID
	Reason  string
	Detail  string
}

// AuditTenantVerification is the verification of one tenant's chain.
type AuditTenantVerification struct {
	TenantID string
	// Checked counts the events whose chain hash was recomputed.
	Checked int64
	// Pending counts events the audit projector has not applied yet: they
	// have no row yet and are not a break.
	Pending int64
	// Pruned counts events whose rows retention pruned (their chain hash is
	// recomputed all the same).
	Pruned int64
	// SignedHeads counts the signed heads compared with the chain.
	SignedHeads int
	Broken      *AuditBreak
}

// AuditVerification is the outcome of VerifyAudit.
type AuditVerification struct {
	Valid       bool
	Checked     int64
	Pending     int64
	Pruned      int64
	SignedHeads int
	Tenants     []AuditTenantVerification
	// FirstBroken is the first break of the first broken tenant (tenants in
	// id order), nil when valid.
	FirstBroken *AuditBreak
}

// AuditVerifyOptions selects what VerifyAudit checks.
type AuditVerifyOptions struct {
	// TenantID is the tenant whose chain is verified, unless AllTenants.
	TenantID   string
	AllTenants bool
	// Verifier checks the signed heads' signatures.
	Verifier auditsign.Verifier
	// Journal, when set, adds the signed heads it holds, each of which the
	// database must still hold.
	Journal *auditsign.Journal
}

// VerifyAudit recomputes each selected tenant's hash chain from the events
// table, in feed order, without trusting the audit rows' hashes, and
// compares it with the audit rows (every field of each row against the
// event) and with every signed head (its signature checked). Events the
// audit projector has not applied yet are counted as pending. It reads
// everything in one snapshot (two connections sharing it), so it may run
// while events are appended.
func VerifyAudit(ctx context.Context, pool *pgxpool.Pool, opts AuditVerifyOptions) (AuditVerification, error) {
	if opts.Verifier.KeyID() == "" {
		return AuditVerification{}, errors.New("verify audit: a verifier is required")
	}
	snap, err := openAuditSnapshot(ctx, pool)
	if err != nil {
		return AuditVerification{}, err
	}
	defer snap.close(ctx)

	tenants := []string{opts.TenantID}
	if opts.AllTenants {
		if tenants, err = snap.tenants(ctx); err != nil {
			return AuditVerification{}, err
		}
	}
	journal, err := journalHeads(opts.Journal)
	if err != nil {
		return AuditVerification{}, err
	}
	if opts.AllTenants {
		for t := range journal {
			if !slices.Contains(tenants, t) {
				tenants = append(tenants, t)
			}
		}
		sort.Strings(tenants)
	}
	out := AuditVerification{Valid: true}
	for _, tenant := range tenants {
		heads, err := snap.signedHeads(ctx, tenant)
		if err != nil {
			return out, err
		}
		tv := AuditTenantVerification{TenantID: tenant}
		if b := checkHeads(tenant, heads, journal[tenant], opts.Verifier); b != nil {
			tv.Broken = b
		} else if err := snap.walk(ctx, tenant, heads, &tv); err != nil {
			return out, err
		}
		tv.SignedHeads = len(heads)
		out.Checked += tv.Checked
		out.Pending += tv.Pending
		out.Pruned += tv.Pruned
		out.SignedHeads += tv.SignedHeads
		if tv.Broken != nil && out.FirstBroken == nil {
			out.Valid, out.FirstBroken = false, tv.Broken
		}
		out.Tenants = append(out.Tenants, tv)
	}
	return out, nil
}

// journalHeads reads the journal's heads by tenant.
func journalHeads(j *auditsign.Journal) (map[string][]auditsign.SignedHead, error) {
	out := map[string][]auditsign.SignedHead{}
	if j == nil {
		return out, nil
	}
	err := j.Each(func(h auditsign.SignedHead) error {
		out[h.TenantID] = append(out[h.TenantID], h)
		return nil
	})
	return out, err
}

// checkHeads verifies every signed head's signature and that the database
// still holds each head of the journal.
func checkHeads(tenant string, heads, journal []auditsign.SignedHead, v auditsign.Verifier) *AuditBreak {
	stored := make(map[string]bool, len(heads))
	for _, h := range heads {
		stored[h.Signature] = true
		if err := v.Verify(h); err != nil {
			return &AuditBreak{TenantID: tenant, Sequence: h.RowCount, EventID: h.LastEventID,
				Reason: BreakSignatureInvalid, Detail: fmt.Sprintf("signed head of %d rows signed at %s: %v", h.RowCount, h.SignedAt, err)}
		}
	}
	for _, h := range journal {
		if !stored[h.Signature] {
			return &AuditBreak{TenantID: tenant, Sequence: h.RowCount, EventID: h.LastEventID, Reason: BreakSignedHeadRemoved,
				Detail: fmt.Sprintf("the journal's head of %d rows signed at %s is missing from the database", h.RowCount, h.SignedAt)}
		}
	}
	return nil
}

// auditSnapshot is two read-only transactions sharing one snapshot: one
// streams events, the other audit rows.
type auditSnapshot struct {
	events, rows *pgxpool.Conn
	evTx, rowTx  pgx.Tx
	// checkpoint is the audit projector's position: events after it are pending.
	checkpoint eventstore.Position
	// built is false when the audit read model does not exist yet.
	built bool
}

func openAuditSnapshot(ctx context.Context, pool *pgxpool.Pool) (s *auditSnapshot, err error) {
	s = &auditSnapshot{}
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	begin := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if s.events, err = pool.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	if s.evTx, err = s.events.BeginTx(ctx, begin); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	// Walking a long chain keeps one transaction waiting on the other.
	if _, err = s.evTx.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	var snapshot string
	if err = s.evTx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("verify audit: export snapshot: %w", err)
	}
	if s.rows, err = pool.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	if s.rowTx, err = s.rows.BeginTx(ctx, begin); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	if _, err = s.rowTx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'; SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return nil, fmt.Errorf("verify audit: import snapshot: %w", err)
	}
	var commit, prepare int64
	err = s.evTx.QueryRow(ctx, `SELECT commit_position, prepare_position FROM projection_checkpoints WHERE projector = $1`,
		AuditProjectorName).Scan(&commit, &prepare)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = nil
	case err != nil:
		return nil, fmt.Errorf("verify audit: read the audit checkpoint: %w", err)
	}
	s.checkpoint = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	if err = s.evTx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL`,
		AuditEventsTable(), AuditHeadsTable()).Scan(&s.built); err != nil {
		return nil, fmt.Errorf("verify audit: %w", err)
	}
	if !s.built {
		s.checkpoint = eventstore.Position{}
	}
	return s, nil
}

func (s *auditSnapshot) close(ctx context.Context) {
	for _, tx := range []pgx.Tx{s.rowTx, s.evTx} {
		if tx != nil {
			rollback(ctx, tx)
		}
	}
	for _, c := range []*pgxpool.Conn{s.rows, s.events} {
		if c != nil {
			c.Release()
		}
	}
}

// tenants lists every tenant with events, audit rows or signed heads.
func (s *auditSnapshot) tenants(ctx context.Context) ([]string, error) {
	sql := `SELECT tenant_id FROM events GROUP BY tenant_id UNION SELECT tenant_id FROM audit_signed_heads`
	if s.built {
		sql += ` UNION SELECT tenant_id FROM ` + AuditHeadsTable()
	}
	rows, err := s.evTx.Query(ctx, `SELECT tenant_id FROM (`+sql+`) t ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("verify audit: list tenants: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("verify audit: list tenants: %w", err)
	}
	return tenants, nil
}

// signedHeads returns the tenant's signed heads, fewest rows first.
func (s *auditSnapshot) signedHeads(ctx context.Context, tenant string) ([]auditsign.SignedHead, error) {
	rows, err := s.evTx.Query(ctx, `
		SELECT tenant_id, row_count, last_event_id, position, hash, signed_at, key_id, signature
		  FROM audit_signed_heads WHERE tenant_id = $1 ORDER BY row_count, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("verify audit: read signed heads of %q: %w", tenant, err)
	}
	heads, err := pgx.CollectRows(rows, scanSignedHead)
	if err != nil {
		return nil, fmt.Errorf("verify audit: read signed heads of %q: %w", tenant, err)
	}
	return heads, nil
}

// String renders a break for people.
func (b AuditBreak) String() string {
	s := "tenant " + strconv.Quote(b.TenantID) + " at row " + strconv.FormatInt(b.Sequence, 10) + ": " + b.Reason
	if b.Detail != "" {
		s += " (" + b.Detail + ")"
	}
	return s
}
