package commands_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/commands"
)

// connEnv is the command side of connections on a fresh database: blobs,
// an outbound caller allowed to reach loopback, and the credentials manager.
type connEnv struct {
	*env
	blobs    *blobstore.Store
	outbound *outbound.Client
	manager  *credentials.Manager
	cdeps    commands.ConnectionDeps

	register commands.RegisterConnectionHandler
	update   commands.UpdateConnectionHandler
	remove   commands.DeleteConnectionHandler
	disable  commands.DisableConnectionHandler
	enable   commands.EnableConnectionHandler
	reimport commands.ReimportConnectionDocumentHandler
	test     commands.TestConnectionHandler
}

// loopback allows the test servers' addresses.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func newConnEnv(t testing.TB, allow []netip.Prefix, tune ...func(*outbound.Config)) *connEnv {
	t.Helper()
	e := &connEnv{env: newEnv(t)}
	var err error
	e.blobs, err = blobstore.New(e.pool)
	require.NoError(t, err)
	cfg := outbound.Config{
		Allow: allow,
		Retry: outbound.RetryConfig{MaxAttempts: 1},
	}
	for _, f := range tune {
		f(&cfg)
	}
	e.outbound, err = outbound.New(cfg, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	t.Cleanup(e.outbound.Close)
	tokens, err := credentials.NewStreamTokenStore(e.store)
	require.NoError(t, err)
	e.manager, err = credentials.New(credentials.Config{
		Vault: e.vault, Outbound: e.outbound, DB: e.pool, Tokens: tokens, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	e.cdeps = commands.ConnectionDeps{Deps: e.deps, Blobs: e.blobs, Outbound: e.outbound, Credentials: e.manager}
	e.register, err = commands.NewRegisterConnectionHandler(e.cdeps)
	require.NoError(t, err)
	e.update, err = commands.NewUpdateConnectionHandler(e.cdeps)
	require.NoError(t, err)
	e.remove, err = commands.NewDeleteConnectionHandler(e.cdeps)
	require.NoError(t, err)
	e.disable, err = commands.NewDisableConnectionHandler(e.cdeps)
	require.NoError(t, err)
	e.enable, err = commands.NewEnableConnectionHandler(e.cdeps)
	require.NoError(t, err)
	e.reimport, err = commands.NewReimportConnectionDocumentHandler(e.cdeps)
	require.NoError(t, err)
	e.test, err = commands.NewTestConnectionHandler(e.cdeps)
	require.NoError(t, err)
	return e
}

// userOf is the metadata of a request by a USER of a tenant.
func userOf(tenantID, requestID string) commands.Meta {
	return commands.Meta{
		TenantID: tenantID, RequestID: requestID,
		Actor: eventstore.Actor{Subject: "user-1", Role: "USER", AuthMethod: "password"},
	}
}

// counts reports how many events, blobs and data keys the database holds.
func (e *connEnv) counts(t *testing.T) [3]int {
	t.Helper()
	var c [3]int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM blobs), (SELECT count(*) FROM data_keys)`).
		Scan(&c[0], &c[1], &c[2]))
	return c
}

func decodeAs[T any](t *testing.T, rec eventstore.RecordedEvent) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(rec.Data, &v))
	return v
}

// within bounds a test's calls.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
