package projections_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/authtoken"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/user"
	"github.com/apiq/apiq/projections"
)

// crashingAudit is the audit projector of a process that dies while
// applying its crashAt-th event: it kills the runner mid-transaction.
type crashingAudit struct {
	*projections.AuditProjector
	crashAt int64
	applied atomic.Int64
	kill    context.CancelFunc
}

var errKilled = errors.New("process killed")

func (p *crashingAudit) Apply(ctx context.Context, db projections.DB, ev eventstore.RecordedEvent) error {
	if p.applied.Add(1) == p.crashAt {
		p.kill()
		return errKilled
	}
	return p.AuditProjector.Apply(ctx, db, ev)
}

// workload drives the real command handlers.
type workload struct {
	t    *testing.T
	h    *harness
	cmds struct {
		tenant  commands.CreateTenantHandler
		user    commands.CreateUserHandler
		login   commands.LoginHandler
		issue   commands.IssueAPITokenHandler
		revoke  commands.RevokeAPITokenHandler
		denied  commands.RecordAccessDeniedHandler
		deleteU commands.DeleteUserHandler
		audited commands.RecordAuditAccessHandler
	}
	vault *vault.Vault
}

func newWorkload(t *testing.T, h *harness) *workload {
	t.Helper()
	kek, err := vault.NewKEK()
	require.NoError(t, err)
	secret := make([]byte, 32)
	_, err = rand.Read(secret)
	require.NoError(t, err)
	ring, err := vault.NewKeyring(kek, secret)
	require.NoError(t, err)
	w := &workload{t: t, h: h}
	w.vault, err = vault.New(h.pool, ring, vault.Options{})
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := authtoken.NewSigner(authtoken.Config{Key: key})
	require.NoError(t, err)
	deps := commands.Deps{Store: h.store, Vault: w.vault, Tokens: signer, Directory: projections.NewUserDirectory(h.pool),
		Passwords: commands.NewArgon2idHasher(&argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}),
		Logger:    slog.New(slog.DiscardHandler)}
	var errs []error
	w.cmds.tenant, err = commands.NewCreateTenantHandler(deps)
	errs = append(errs, err)
	w.cmds.user, err = commands.NewCreateUserHandler(deps)
	errs = append(errs, err)
	w.cmds.login, err = commands.NewLoginHandler(deps)
	errs = append(errs, err)
	w.cmds.issue, err = commands.NewIssueAPITokenHandler(deps)
	errs = append(errs, err)
	w.cmds.revoke, err = commands.NewRevokeAPITokenHandler(deps)
	errs = append(errs, err)
	w.cmds.denied, err = commands.NewRecordAccessDeniedHandler(deps)
	errs = append(errs, err)
	w.cmds.deleteU, err = commands.NewDeleteUserHandler(deps)
	errs = append(errs, err)
	w.cmds.audited, err = commands.NewRecordAuditAccessHandler(deps)
	errs = append(errs, err)
	require.NoError(t, errors.Join(errs...))
	return w
}

// note records the position of the last event a command appended.
func (w *workload) note(pos eventstore.Position) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	if pos.Compare(w.h.last) > 0 {
		w.h.last = pos
	}
}

// round runs one mixed round in a new tenant: users, logins (good and
// bad), tokens issued and revoked, refused access, an audit read, a
// deleted user and a connection with sealed credentials.
func (w *workload) round(ctx context.Context, r *runningRunner, n int) {
	t := w.t
	slug := fmt.Sprintf("t%d", n)
	system := commands.Meta{Actor: commands.SystemActor(), RequestID: "create-" + slug}
	ten, err := w.cmds.tenant.Handle(ctx, system, commands.CreateTenant{Name: slug, Slug: slug,
		AdminEmail: "ada@" + slug + ".example", AdminName: "Ada", AdminPassword: "a long password"})
	require.NoError(t, err)
	w.note(ten.Position)
	admin := commands.Meta{TenantID: ten.TenantID, RequestID: "req-" + slug, ClientIP: "192.0.2.1", UserAgent: "test",
		Actor: eventstore.Actor{Subject: ten.AdminUserID, Role: "ADMIN", AuthMethod: "password"}}
	at := func(step string) commands.Meta { m := admin; m.RequestID += "-" + step; return m }
	bob, err := w.cmds.user.Handle(ctx, at("bob"), commands.CreateUser{Email: "bob@" + slug + ".example", Name: "Bob",
		Password: "bob's password", Role: user.RoleUser})
	require.NoError(t, err)
	w.note(bob.Position)
	require.NoError(t, r.WaitForPosition(ctx, bob.Position, "users"), "logins need the users view")
	for i, password := range []string{"bob's password", "wrong", "bob's password"} {
		res, err := w.cmds.login.Handle(ctx, commands.Meta{RequestID: fmt.Sprintf("login-%s-%d", slug, i)},
			commands.Login{Email: "bob@" + slug + ".example", Password: password})
		if password == "wrong" {
			require.Error(t, err)
			continue
		}
		require.NoError(t, err)
		w.note(res.Position)
	}
	_, err = w.cmds.login.Handle(ctx, commands.Meta{RequestID: "login-nobody-" + slug}, commands.Login{Email: "nobody@x.example", Password: "x"})
	require.Error(t, err)
	tok, err := w.cmds.issue.Handle(ctx, at("token"), commands.IssueAPIToken{UserID: bob.UserID, Name: "ci"})
	require.NoError(t, err)
	w.note(tok.Position)
	require.NoError(t, r.WaitForPosition(ctx, tok.Position, "api_tokens"))
	rev, err := w.cmds.revoke.Handle(ctx, at("revoke"), commands.RevokeAPIToken{TokenID: tok.TokenID})
	require.NoError(t, err)
	w.note(rev.Position)
	den, err := w.cmds.denied.Handle(ctx, at("denied"), commands.RecordAccessDenied{Method: "GET", Route: "/v1/users"})
	require.NoError(t, err)
	w.note(den.Position)
	acc, err := w.cmds.audited.Handle(ctx, at("audit"), commands.RecordAuditAccess{Query: "export", Filters: map[string]string{"format": "csv"}})
	require.NoError(t, err)
	w.note(acc.Position)
	del, err := w.cmds.deleteU.Handle(ctx, at("delete"), commands.DeleteUser{UserID: bob.UserID})
	require.NoError(t, err)
	w.note(del.Position)

	sealed, err := w.vault.EncryptString(ctx, vault.Scope{Tenant: ten.TenantID, Owner: "connection:c-" + slug, Field: "api_key"}, "sk_live_SECRET"+slug)
	require.NoError(t, err)
	data, err := json.Marshal(connection.CredentialsSet{Credentials: connection.Credentials{Type: "api_key", Hint: "sk_…" + slug,
		KeyID: "key-" + slug, Sealed: map[string]string{"api_key": sealed}}})
	require.NoError(t, err)
	res, err := w.h.store.Append(ctx, connection.Stream("c-"+slug), eventstore.Any, []eventstore.EventData{{ID: uuid.New(),
		Type: connection.TypeCredentialsSet, Data: data, Metadata: eventstore.Metadata{TenantID: ten.TenantID, Actor: admin.Actor, SchemaVersion: 1}}})
	require.NoError(t, err)
	w.note(res.Position)
}

// TestAuditCompleteness runs a mixed workload through the real command
// handlers, kills the audit projector's process in the middle of a batch,
// restarts it, and checks that every event has exactly one audit row.
func TestAuditCompleteness(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	w := newWorkload(t, h)
	users, err := projections.NewUsersProjector(w.vault)
	require.NoError(t, err)
	// The identity projectors run throughout in a process of their own.
	idnCfg := h.testConfig(projections.NewTenantsProjector(), users, projections.NewAPITokensProjector())
	idnCfg.Registerer = nil
	idn := start(t, idnCfg)

	crashing := &crashingAudit{AuditProjector: projections.NewAuditProjector(), crashAt: 40}
	first, err := projections.NewRunner(h.testConfig(crashing))
	require.NoError(t, err)
	runCtx, kill := context.WithCancel(ctx)
	crashing.kill = kill
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	for n := range 3 {
		w.round(ctx, idn, n)
	}
	require.NoError(t, receive(t, done), "the killed runner stops")
	assert.GreaterOrEqual(t, crashing.applied.Load(), crashing.crashAt, "the crash happened")

	// The restarted process catches up and keeps going.
	cfg := h.testConfig(projections.NewAuditProjector())
	cfg.Registerer = nil
	second := start(t, cfg)
	for n := 3; n < 5; n++ {
		w.round(ctx, idn, n)
	}
	h.waitCaughtUp(t, second)

	var events, rows []uuid.UUID
	collect := func(sql string, into *[]uuid.UUID) {
		r, err := h.pool.Query(ctx, sql)
		require.NoError(t, err)
		for r.Next() {
			var id uuid.UUID
			require.NoError(t, r.Scan(&id))
			*into = append(*into, id)
		}
		require.NoError(t, r.Err())
	}
	collect(`SELECT event_id FROM events ORDER BY event_id`, &events)
	collect(`SELECT event_id FROM rm_audit.audit_events ORDER BY event_id`, &rows)
	require.Greater(t, len(events), 60)
	assert.Equal(t, events, rows, "every event has exactly one audit row")

	var types []string
	r, err := h.pool.Query(ctx, `SELECT DISTINCT action FROM rm_audit.audit_events ORDER BY 1`)
	require.NoError(t, err)
	for r.Next() {
		var typ string
		require.NoError(t, r.Scan(&typ))
		types = append(types, typ)
	}
	require.NoError(t, r.Err())
	for _, want := range []string{"user.logged_in", "user.login_failed", "security.login_failed", "user.api_token_issued",
		"user.api_token_revoked", "security.access_denied", "security.audit_accessed", "user.deleted", "connection.credentials_set"} {
		assert.Contains(t, types, want)
	}
	var leaked int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM rm_audit.audit_events a
		WHERE a.summary::text LIKE '%sk_live%' OR EXISTS (
		    SELECT 1 FROM events e, jsonb_each_text(e.data -> 'sealed') s
		     WHERE e.event_id = a.event_id AND strpos(a::text, s.value) > 0)`).Scan(&leaked))
	assert.Zero(t, leaked, "no ciphertext or secret in any audit row")
	var keyIDs int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM rm_audit.audit_events
		WHERE action = 'connection.credentials_set' AND summary->>'key_id' LIKE 'key-%' AND summary->>'type' = 'api_key'`).Scan(&keyIDs))
	assert.Equal(t, 5, keyIDs, "credential events keep their key id and type")

	v, err := projections.VerifyAudit(ctx, h.pool, projections.AuditVerifyOptions{AllTenants: true, Verifier: newAuditKey(t).Verifier()})
	require.NoError(t, err)
	assert.True(t, v.Valid, "%v", v.FirstBroken)
	assert.Equal(t, int64(len(events)), v.Checked)
	assert.Len(t, v.Tenants, 6, "five tenants and the logins that named none")
}
