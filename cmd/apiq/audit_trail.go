package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/projections"
)

// auditTrail adapts the audit read model, the replay, verification and the
// signer to api.AuditTrail, and records every read (RecordAuditAccess).
type auditTrail struct {
	c       *core
	record  commands.RecordAuditAccessHandler
	key     *auditsign.Key
	journal *auditsign.Journal
	signer  *projections.AuditSigner
}

var _ api.AuditTrail = (*auditTrail)(nil)

// auditPruneInterval is how often rows past APIQ_AUDIT_RETENTION are pruned.
const auditPruneInterval = time.Hour

func (c Config) auditKeyPath() string { return filepath.Join(c.DataDir, auditsign.DefaultKeyFile) }

func (c Config) auditJournalPath() string {
	return filepath.Join(c.DataDir, auditsign.DefaultJournalFile)
}

// openAudit loads (or generates) the audit signing key from the data
// directory and prepares the signer, which serve runs in the background.
func (c *core) openAudit() error {
	created, err := auditsign.EnsureKeyFile(c.cfg.auditKeyPath())
	if err != nil {
		return err
	}
	if created {
		c.logger.Info("generated a new audit signing key; back it up with the data directory: signed audit heads verify only with it",
			slog.String("path", c.cfg.auditKeyPath()))
	}
	a := &auditTrail{c: c}
	if a.key, err = auditsign.LoadKeyFile(c.cfg.auditKeyPath()); err != nil {
		return err
	}
	if a.journal, err = auditsign.NewJournal(c.cfg.auditJournalPath()); err != nil {
		return err
	}
	if a.signer, err = projections.NewAuditSigner(projections.AuditSignerConfig{Pool: c.pool, Key: a.key, Journal: a.journal,
		Logger: c.logger, Interval: c.cfg.AuditSignInterval}); err != nil {
		return err
	}
	if a.record, err = commands.NewRecordAuditAccessHandler(commands.Deps{Store: c.store, Logger: c.logger}); err != nil {
		return fmt.Errorf("command handlers: %w", err)
	}
	c.audit = a
	c.background = append(c.background, a.signer.Run)
	if retention := c.cfg.AuditRetention; retention > 0 {
		c.background = append(c.background, func(ctx context.Context) error {
			return projections.RunAuditRetention(ctx, c.pool, retention, auditPruneInterval, c.logger)
		})
	}
	return nil
}

// RecordAccess implements api.AuditTrail.
func (a *auditTrail) RecordAccess(ctx context.Context, md eventstore.Metadata, query string, filters map[string]string) error {
	_, err := a.record.Handle(ctx, commands.MetaFromMetadata(md), commands.RecordAuditAccess{Query: query, Filters: filters})
	return err
}

func projectionFilter(f api.AuditFilter) projections.AuditFilter {
	return projections.AuditFilter{From: f.From, To: f.To, Actor: f.Actor, Action: f.Action, ResourceType: f.ResourceType,
		ResourceID: f.ResourceID, CorrelationID: f.CorrelationID, Text: f.Text}
}

// apiAuditEvent renders a row; rows derived from events (replays,
// timelines) have no place in the chain and show none.
func apiAuditEvent(r projections.AuditRow) api.AuditEvent {
	e := api.AuditEvent{
		EventID: r.EventID.String(), TenantID: r.TenantID, Sequence: r.Sequence, Position: r.Position.String(),
		OccurredAt: r.OccurredAt, RecordedAt: r.RecordedAt,
		Actor: api.AuditActor{Subject: r.Actor.Subject, Role: r.Actor.Role, AuthMethod: r.Actor.AuthMethod,
			TokenID: r.Actor.TokenID, SSOIssuer: r.Actor.SSOIssuer, SSOSubject: r.Actor.SSOSubject},
		ClientIP: r.ClientIP, UserAgent: r.UserAgent, RequestID: r.RequestID, Action: r.Action,
		Resource: api.AuditResource{Type: r.ResourceType, ID: r.ResourceID}, Stream: r.StreamID,
		StreamVersion: r.StreamVersion, Outcome: r.Outcome, CorrelationID: r.CorrelationID, CausationID: r.CausationID,
		Summary: r.Summary,
	}
	if len(r.Hash) > 0 {
		e.PreviousHash, e.Hash = hex.EncodeToString(r.PrevHash), hex.EncodeToString(r.Hash)
	}
	return e
}

// ListAuditEvents implements api.AuditTrail.
func (a *auditTrail) ListAuditEvents(ctx context.Context, tenantID string, f api.AuditFilter, limit int, cursor string) ([]api.AuditEvent, string, error) {
	page, err := projections.ListAuditRows(ctx, a.c.pool, tenantID, projectionFilter(f), limit, cursor)
	if err != nil {
		return nil, "", err
	}
	out := make([]api.AuditEvent, len(page.Rows))
	for i, r := range page.Rows {
		out[i] = apiAuditEvent(r)
	}
	return out, page.Next, nil
}

// ExportAuditEvents implements api.AuditTrail.
func (a *auditTrail) ExportAuditEvents(ctx context.Context, tenantID string, f api.AuditFilter, emit func(api.AuditEvent) error) error {
	_, err := projections.ExportAuditRows(ctx, a.c.pool, tenantID, projectionFilter(f), func(r projections.AuditRow) error {
		return emit(apiAuditEvent(r))
	})
	return err
}

// ReplayStream implements api.AuditTrail.
func (a *auditTrail) ReplayStream(ctx context.Context, tenantID, stream, at string) (api.StreamReplay, error) {
	point, err := projections.ParseReplayPoint(at)
	if err != nil {
		return api.StreamReplay{}, err
	}
	r, err := projections.ReplayStream(ctx, a.c.store, tenantID, stream, point)
	if err != nil {
		return api.StreamReplay{}, err
	}
	out := api.StreamReplay{Stream: r.Stream, Resource: api.AuditResource{Type: r.ResourceType, ID: r.ResourceID},
		Version: r.Version, State: r.State, EventCount: r.EventCount, Events: make([]api.AuditEvent, len(r.Events))}
	if !r.At.IsZero() {
		out.At = &r.At
	}
	for i, e := range r.Events {
		out.Events[i] = apiAuditEvent(e)
	}
	return out, nil
}

// ExecutionTimeline implements api.AuditTrail.
func (a *auditTrail) ExecutionTimeline(ctx context.Context, tenantID, executionID string) (api.ExecutionTimeline, error) {
	tl, err := projections.ReadExecutionTimeline(ctx, a.c.store, tenantID, executionID)
	if err != nil {
		return api.ExecutionTimeline{}, err
	}
	out := api.ExecutionTimeline{ExecutionID: tl.ExecutionID, Stream: tl.Stream, StartedAt: tl.StartedAt, EndedAt: tl.EndedAt,
		DurationMS: tl.EndedAt.Sub(tl.StartedAt).Milliseconds(), LastAction: tl.LastAction, Outcome: tl.Outcome,
		Truncated: tl.Truncated, Entries: make([]api.TimelineEntry, len(tl.Entries))}
	for i, e := range tl.Entries {
		out.Entries[i] = api.TimelineEntry{Event: apiAuditEvent(e.AuditRow), Step: e.Step, ElapsedMS: e.Elapsed.Milliseconds()}
	}
	return out, nil
}

// errVerifyNeedsPostgres: verification recomputes the chains from the
// PostgreSQL events table.
var errVerifyNeedsPostgres = apierror.New(http.StatusNotImplemented, apierror.CodeUnavailable,
	"audit verification reads the PostgreSQL event log; it is not available with EventStoreDB")

// verify runs the verification of one tenant or of all.
func (a *auditTrail) verify(ctx context.Context, tenantID string, all bool) (projections.AuditVerification, error) {
	if a.c.cfg.ESDBURL != "" {
		return projections.AuditVerification{}, errVerifyNeedsPostgres
	}
	return projections.VerifyAudit(ctx, a.c.pool, projections.AuditVerifyOptions{
		TenantID: tenantID, AllTenants: all, Verifier: a.key.Verifier(), Journal: a.journal})
}

// VerifyChain implements api.AuditTrail.
func (a *auditTrail) VerifyChain(ctx context.Context, tenantID string) (api.ChainVerification, error) {
	v, err := a.verify(ctx, tenantID, false)
	if err != nil {
		return api.ChainVerification{}, err
	}
	out := api.ChainVerification{Valid: v.Valid, Checked: v.Checked, Pending: v.Pending, Pruned: v.Pruned, SignedHeads: v.SignedHeads}
	if b := v.FirstBroken; b != nil {
		out.FirstBroken = &api.ChainBreak{Sequence: b.Sequence, Reason: b.Reason, Detail: b.Detail}
		if b.EventID != [16]byte{} {
			out.FirstBroken.EventID = b.EventID.String()
		}
	}
	return out, nil
}

// SignedHeads implements api.AuditTrail.
func (a *auditTrail) SignedHeads(ctx context.Context, tenantID string, limit int) (api.SignedHeads, error) {
	heads, err := projections.ListSignedHeads(ctx, a.c.pool, tenantID, limit)
	if err != nil {
		return api.SignedHeads{}, err
	}
	v := a.key.Verifier()
	return api.SignedHeads{KeyID: v.KeyID(), PublicKey: base64.StdEncoding.EncodeToString(v.PublicKey()), Heads: heads}, nil
}

// errAuditBroken makes `apiq audit verify` exit with status 1.
var errAuditBroken = errors.New("the audit trail failed verification")
