package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/projections"
)

// runCLI runs an apiq subcommand against the service's database and data
// directory and returns its output and error.
func (s *service) runCLI(args ...string) (string, error) {
	s.t.Helper()
	var out bytes.Buffer
	a := &app{
		getenv: envOf(map[string]string{"APIQ_DATABASE_URL": s.core.cfg.DatabaseURL, "APIQ_DATA_DIR": s.core.cfg.DataDir}),
		stdin:  strings.NewReader(""), stdout: &out, stderr: &bytes.Buffer{},
	}
	root := a.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// auditEvents lists the audit rows matching query, as the auditor.
func (s *service) auditEvents(token, query string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body := s.json("GET", "/v1/audit/events?limit=1000&"+q, token, "")
		require.Equal(s.t, http.StatusOK, status, body)
		for _, e := range body["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// TestAuditTrailEndToEnd walks the audit story through the real service:
// a mixed workload, every event audited exactly once, auditors audited,
// exports, replays, signed heads, verification before and after tampering,
// and reconciliation.
func TestAuditTrailEndToEnd(t *testing.T) {
	s := startService(t, map[string]string{"APIQ_AUDIT_SIGN_INTERVAL": "1h"})
	ctx := context.Background()
	auditor := s.user("audrey@example.com", "AUDITOR")
	bob := s.user("bob@example.com", "USER")
	_, bobMe := s.json("GET", "/v1/me", bob, "")
	bobID := bobMe["user"].(map[string]any)["id"].(string)

	// A mixed workload: a failed login, refused access, a token issued and revoked.
	status, _ := s.json("POST", "/v1/auth/login", "", `{"email":"bob@example.com","password":"wrong password"}`)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = s.json("GET", "/v1/audit/events", bob, "")
	require.Equal(t, http.StatusForbidden, status, "a USER never reads the audit trail")
	status, issued := s.json("POST", "/v1/tokens", s.admin, `{"name":"ci","user_id":"`+bobID+`"}`)
	require.Equal(t, http.StatusCreated, status, issued)
	status, revoked := s.json("DELETE", "/v1/tokens/"+issued["id"].(string)+"?min_position="+issued["position"].(string), s.admin, "")
	require.Equal(t, http.StatusOK, status, revoked)

	// The audit trail reads its own writes.
	denied := s.auditEvents(auditor, "min_position="+revoked["position"].(string)+"&action=security.access_denied&actor="+bobID)
	require.Len(t, denied, 1)
	assert.Equal(t, "denied", denied[0]["outcome"])
	assert.Equal(t, "USER", denied[0]["actor"].(map[string]any)["role"])
	failed := s.auditEvents(auditor, "action=user.login_failed")
	require.Len(t, failed, 1)
	assert.Equal(t, "failure", failed[0]["outcome"])
	revokes := s.auditEvents(auditor, "action=user.api_token_revoked")
	require.Len(t, revokes, 1)
	assert.Equal(t, issued["id"], revokes[0]["summary"].(map[string]any)["token_id"])

	// Deleting Bob shreds his data key; the chain does not notice.
	status, deleted := s.json("DELETE", "/v1/users/"+bobID, s.admin, "")
	require.Equal(t, http.StatusOK, status, deleted)
	status, replay := s.json("GET", "/v1/audit/streams/user-"+bobID+"?min_position="+deleted["position"].(string), auditor, "")
	require.Equal(t, http.StatusOK, status, replay)
	assert.Equal(t, true, replay["state"].(map[string]any)["deleted"])
	status, before := s.json("GET", "/v1/audit/streams/user-"+bobID+"?at=0", auditor, "")
	require.Equal(t, http.StatusOK, status, before)
	assert.Equal(t, float64(0), before["version"])
	assert.Equal(t, false, before["state"].(map[string]any)["deleted"])
	assert.Len(t, before["events"], 1)

	// Every event of the tenant has exactly one audit row, and each audit
	// read above is an event itself.
	status, verified := s.json("GET", "/v1/audit/verify", auditor, "")
	require.Equal(t, http.StatusOK, status, verified)
	s.waitForAudit()
	assert.Zero(t, s.count(`SELECT count(*) FROM events e WHERE e.tenant_id = $1 AND NOT EXISTS (
		SELECT 1 FROM rm_audit.audit_events a WHERE a.event_id = e.event_id)`, s.tenantID), "an event without its row")
	assert.Equal(t, s.count(`SELECT count(*) FROM events WHERE tenant_id = $1`, s.tenantID),
		s.count(`SELECT count(*) FROM rm_audit.audit_events WHERE tenant_id = $1`, s.tenantID))
	accesses := s.auditEvents(auditor, "action=security.audit_accessed&actor="+auditorID(t, s, auditor))
	assert.Len(t, accesses, 6, "auditors are audited: every read above")
	queries := map[string]bool{}
	for _, a := range accesses {
		queries[a["summary"].(map[string]any)["query"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"events": true, "stream": true, "verify": true}, queries)
	assert.Equal(t, true, verified["valid"], verified)
	assert.Equal(t, float64(0), verified["pruned"], "retention keeps every row by default")

	// The export streams the same rows.
	status, header, raw := s.send("GET", "/v1/audit/export?format=csv&action=user.login_failed", auditor, nil, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "text/csv; charset=utf-8", header.Get("Content-Type"))
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 2)
	assert.Equal(t, failed[0]["event_id"], records[1][1])

	// Signed heads, then verification by the command line.
	out, err := s.runCLI("audit", "sign")
	require.NoError(t, err)
	assert.Contains(t, out, fmt.Sprintf("%q", s.tenantID))
	status, heads := s.json("GET", "/v1/audit/heads", auditor, "")
	require.Equal(t, http.StatusOK, status, heads)
	require.NotEmpty(t, heads["heads"])
	assert.NotEmpty(t, heads["public_key"])
	out, err = s.runCLI("audit", "verify")
	require.NoError(t, err, out)
	assert.Contains(t, out, "valid: true")
	out, err = s.runCLI("audit", "verify", "--tenant", s.tenantID)
	require.NoError(t, err, out)
	out, err = s.runCLI("audit", "reconcile")
	require.NoError(t, err, out)
	assert.Contains(t, out, "every read model matches")

	// A superuser rewrites history: both the API and the command line see it.
	_, err = s.core.pool.Exec(ctx, `SET session_replication_role = replica;
		UPDATE events SET data = '{"method":"password","reason":"innocent"}' WHERE event_type = 'user.login_failed';
		SET session_replication_role = DEFAULT`)
	require.NoError(t, err)
	status, verified = s.json("GET", "/v1/audit/verify", auditor, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, false, verified["valid"])
	assert.Equal(t, "hash_mismatch", verified["first_broken"].(map[string]any)["reason"])
	out, err = s.runCLI("audit", "verify")
	require.ErrorIs(t, err, errAuditBroken)
	assert.Contains(t, out, "BROKEN at row")

	_, err = s.core.pool.Exec(ctx, `UPDATE rm_audit.audit_events SET outcome = 'success' WHERE action = 'user.login_failed'`)
	require.NoError(t, err)
	out, err = s.runCLI("audit", "reconcile", "audit")
	require.ErrorIs(t, err, errReconcileDiffers)
	assert.Contains(t, out, "audit_events")
}

// waitForAudit waits until the audit projector has applied the last event
// appended so far.
func (s *service) waitForAudit() {
	s.t.Helper()
	var commit, prepare uint64
	require.NoError(s.t, s.core.pool.QueryRow(context.Background(), `SELECT transaction_id::text::bigint, global_position
		FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1`).Scan(&commit, &prepare))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.core.runner.WaitForPosition(ctx, eventstore.Position{Commit: commit, Prepare: prepare}, projections.AuditProjectorName)
		if err == nil {
			return
		}
		require.ErrorIs(s.t, err, projections.ErrProjectionTimeout)
	}
}

func auditorID(t *testing.T, s *service, token string) string {
	t.Helper()
	_, me := s.json("GET", "/v1/me", token, "")
	return me["user"].(map[string]any)["id"].(string)
}
