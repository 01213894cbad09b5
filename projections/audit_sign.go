package projections

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
)

// DefaultAuditSignInterval is how often the audit chain heads are signed.
const DefaultAuditSignInterval = time.Minute

// auditSignLock serialises signers of several processes.
const auditSignLock = "apiq.audit.sign"

// AuditSignerConfig configures an AuditSigner. Pool and Key are required.
type AuditSignerConfig struct {
	Pool *pgxpool.Pool
	// Key signs the heads; it lives in the data directory, never in the database.
	Key *auditsign.Key
	// Journal, when set, receives a copy of every signed head.
	Journal *auditsign.Journal
	// Logger publishes every signed head (slog.Default when nil).
	Logger *slog.Logger
	// Interval between signing rounds (DefaultAuditSignInterval when zero).
	Interval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c *AuditSignerConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Interval == 0 {
		c.Interval = DefaultAuditSignInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate lists every problem of the configuration.
func (c AuditSignerConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("pool is required"))
	}
	if c.Key == nil {
		errs = append(errs, errors.New("signing key is required"))
	}
	if c.Interval < 0 {
		errs = append(errs, errors.New("interval must not be negative"))
	}
	return errors.Join(errs...)
}

// AuditSigner signs the head of each tenant's audit chain and publishes it:
// stored in audit_signed_heads, appended to the journal, logged.
type AuditSigner struct {
	cfg AuditSignerConfig
}

// NewAuditSigner checks cfg.
func NewAuditSigner(cfg AuditSignerConfig) (*AuditSigner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("audit signer: %w", err)
	}
	return &AuditSigner{cfg: cfg}, nil
}

// Verifier checks the signatures of this signer's key.
func (s *AuditSigner) Verifier() auditsign.Verifier { return s.cfg.Key.Verifier() }

// Run signs changed heads every interval until ctx ends; a failed round is
// logged and retried at the next tick.
func (s *AuditSigner) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.Sign(ctx, false); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("could not sign the audit chain heads", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sign signs the head of every tenant chain whose latest signed head is
// not its current head (every chain's head when force is set), stores and
// publishes the signed heads, and returns them. When another process is
// signing at the same moment it returns none.
func (s *AuditSigner) Sign(ctx context.Context, force bool) ([]auditsign.SignedHead, error) {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign audit heads: %w", err)
	}
	defer rollback(ctx, tx)
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, auditSignLock).Scan(&locked); err != nil {
		return nil, fmt.Errorf("sign audit heads: %w", err)
	}
	if !locked {
		return nil, nil
	}
	heads, err := s.unsigned(ctx, tx, force)
	if err != nil || len(heads) == 0 {
		return nil, err
	}
	now := s.cfg.Now()
	signed := make([]auditsign.SignedHead, len(heads))
	batch := &pgx.Batch{}
	for i, h := range heads {
		signed[i] = s.cfg.Key.Sign(auditsign.Head{
			TenantID: h.TenantID, RowCount: h.Sequence, LastEventID: h.EventID, Position: h.Position.String(),
			Hash: hex.EncodeToString(h.Hash), SignedAt: now,
		})
		sh := signed[i]
		batch.Queue(`INSERT INTO audit_signed_heads (tenant_id, row_count, last_event_id, position, hash, signed_at, key_id, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			sh.TenantID, sh.RowCount, sh.LastEventID, sh.Position, sh.Hash, sh.SignedAt, sh.KeyID, sh.Signature)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("store signed audit heads: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("store signed audit heads: %w", err)
	}
	// The journal copies what the database holds, never more: a head the
	// journal has and the database lacks means someone removed it.
	if s.cfg.Journal != nil {
		if err := s.cfg.Journal.Append(signed...); err != nil {
			return signed, err
		}
	}
	for _, sh := range signed {
		s.cfg.Logger.Info("audit chain head signed", slog.String("tenant_id", sh.TenantID),
			slog.Int64("row_count", sh.RowCount), slog.String("last_event_id", sh.LastEventID.String()),
			slog.String("position", sh.Position), slog.String("hash", sh.Hash),
			slog.Time("signed_at", sh.SignedAt), slog.String("key_id", sh.KeyID), slog.String("signature", sh.Signature))
	}
	return signed, nil
}

// unsigned returns the chain heads to sign.
func (s *AuditSigner) unsigned(ctx context.Context, tx pgx.Tx, force bool) ([]AuditChainHead, error) {
	rows, err := tx.Query(ctx, `
		SELECT h.tenant_id, h.seq, h.hash, h.event_id, h.commit_position, h.global_position
		  FROM `+AuditHeadsTable()+` h
		 WHERE $1 OR NOT EXISTS (
		       SELECT 1 FROM audit_signed_heads s
		        WHERE s.tenant_id = h.tenant_id AND s.row_count = h.seq AND s.hash = encode(h.hash, 'hex'))
		 ORDER BY h.tenant_id`, force)
	if isUndefinedTable(err) {
		return nil, nil // the audit read model is not built yet
	}
	if err != nil {
		return nil, fmt.Errorf("read audit chain heads: %w", err)
	}
	heads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditChainHead, error) {
		var (
			h               AuditChainHead
			commit, prepare int64
		)
		err := r.Scan(&h.TenantID, &h.Sequence, &h.Hash, &h.EventID, &commit, &prepare)
		h.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
		return h, err
	})
	if isUndefinedTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit chain heads: %w", err)
	}
	return heads, nil
}

// ListSignedHeads returns the tenant's signed heads, newest first, at most limit.
func ListSignedHeads(ctx context.Context, db QueryDB, tenantID string, limit int) ([]auditsign.SignedHead, error) {
	rows, err := db.Query(ctx, `
		SELECT tenant_id, row_count, last_event_id, position, hash, signed_at, key_id, signature
		  FROM audit_signed_heads WHERE tenant_id = $1
		 ORDER BY row_count DESC, id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("list signed audit heads: %w", err)
	}
	heads, err := pgx.CollectRows(rows, scanSignedHead)
	if err != nil {
		return nil, fmt.Errorf("list signed audit heads: %w", err)
	}
	return heads, nil
}

func scanSignedHead(r pgx.CollectableRow) (auditsign.SignedHead, error) {
	var h auditsign.SignedHead
	err := r.Scan(&h.TenantID, &h.RowCount, &h.LastEventID, &h.Position, &h.Hash, &h.SignedAt, &h.KeyID, &h.Signature)
	h.SignedAt = h.SignedAt.UTC()
	return h, err
}
