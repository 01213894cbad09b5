package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// BlobStore keeps documents and catalogues by content hash
// (blobstore.Store implements it).
type BlobStore interface {
	Put(ctx context.Context, mediaType string, data []byte) (string, error)
	Get(ctx context.Context, hash string) ([]byte, error)
}

// Outbound makes the SSRF-safe calls that fetch documents
// (outbound.Client implements it).
type Outbound interface {
	Do(ctx context.Context, req outbound.Request) (*outbound.Result, error)
	// Forget drops the rate limiter and breaker of a key (a deleted connection).
	Forget(key string)
}

// ConnectionCredentials seals, applies, revokes and authorises connection
// credentials (credentials.Manager implements it).
type ConnectionCredentials interface {
	Seal(ctx context.Context, tenant, connectionID string, in credentials.Input, doc credentials.Document) (connection.Credentials, error)
	Do(ctx context.Context, tenant, connectionID string, creds connection.Credentials, req outbound.Request) (*outbound.Result, credentials.Applied, error)
	Revoke(ctx context.Context, tenant, connectionID string, creds connection.Credentials) error
	Forget(tenant, connectionID string)
	Start(ctx context.Context, tenant, connectionID, userID, redirectURI string, creds connection.Credentials) (string, error)
	Complete(ctx context.Context, state, code string) (credentials.Authorization, error)
}

// ConnectionDeps are the collaborators of the connection commands: the
// common Deps (Store, Vault for crypto-shredding, logging, clock) and what
// connections add.
type ConnectionDeps struct {
	Deps
	Blobs       BlobStore
	Outbound    Outbound
	Credentials ConnectionCredentials
	// Import tunes document imports; Import.MaxBytes is the document size
	// limit (APIQ_MAX_DOCUMENT_BYTES, default 25 MiB).
	Import openapi.Options
}

func (d ConnectionDeps) withDefaults() ConnectionDeps {
	d.Deps = d.Deps.withDefaults()
	if d.Import.MaxBytes <= 0 {
		d.Import.MaxBytes = openapi.DefaultMaxBytes
	}
	return d
}

// require reports every dependency a connection handler needs that is missing.
func (d ConnectionDeps) require(handler string, blobs, out, creds bool) error {
	var errs []error
	check := func(need, missing bool, name string) {
		if need && missing {
			errs = append(errs, errors.New(handler+": "+name+" is required"))
		}
	}
	check(true, d.Store == nil, "Store")
	check(true, d.Vault == nil, "Vault")
	check(blobs, d.Blobs == nil, "Blobs")
	check(out, d.Outbound == nil, "Outbound")
	check(creds, d.Credentials == nil, "Credentials")
	errs = append(errs, d.Import.Validate())
	return errors.Join(errs...)
}

func connectionAggregate() aggregate[connection.State] {
	return aggregate[connection.State]{decode: connection.Decode, evolve: connection.Evolve}
}

// loadConnection folds a connection of the caller's tenant; one of another
// tenant, or none, is connection.ErrNotFound, as is a deleted one unless
// deleted is accepted.
func loadConnection(ctx context.Context, store EventStore, tenantID, connectionID string, deleted bool) (loaded[connection.State], error) {
	if connectionID == "" || tenantID == "" {
		return loaded[connection.State]{}, connection.ErrNotFound
	}
	ls, err := load(ctx, store, connection.Stream(connectionID), connectionAggregate())
	if err != nil {
		return ls, err
	}
	if ls.version == eventstore.NoStream || len(ls.recorded) == 0 || ls.recorded[0].Metadata.TenantID != tenantID ||
		!ls.state.Exists || (ls.state.Deleted && !deleted) {
		return loaded[connection.State]{}, connection.ErrNotFound
	}
	return ls, nil
}

// changeConnection decides and appends on a connection's stream (see change).
func changeConnection(ctx context.Context, d Deps, meta Meta, connectionID string, cmd connection.Command) (outcome[connection.State], error) {
	return change(ctx, d, meta, connection.Stream(connectionID), connectionAggregate(), func(s connection.State) ([]domain.Event, error) {
		return connection.Decide(s, cmd)
	})
}

// ConnectionResult names the connection a command changed and where the
// change landed in the event log.
type ConnectionResult struct {
	ConnectionID string
	Position     eventstore.Position
}

func connectionResult(id string, o outcome[connection.State]) ConnectionResult {
	return ConnectionResult{ConnectionID: id, Position: o.Position}
}

// sealOrNil seals auth (nil: no credentials given).
func (d ConnectionDeps) sealOrNil(ctx context.Context, tenantID, connectionID string, auth *credentials.Input,
	doc credentials.Document) (*connection.Credentials, error) {
	if auth == nil {
		return nil, nil
	}
	creds, err := d.Credentials.Seal(ctx, tenantID, connectionID, *auth, doc)
	if err != nil {
		return nil, fmt.Errorf("seal credentials: %w", err)
	}
	return &creds, nil
}
