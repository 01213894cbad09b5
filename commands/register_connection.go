package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// RegisterConnection registers an external API in the caller's tenant from
// its OpenAPI document.
type RegisterConnection struct {
	Name string
	// BaseURL defaults to the document's first server.
	BaseURL  string
	Document DocumentSource
	// Auth is the credentials' input (nil: none given).
	Auth *credentials.Input
}

// RegisterConnectionHandler handles RegisterConnection.
type RegisterConnectionHandler = Handler[RegisterConnection, ConnectionResult]

type registerConnectionHandler struct{ d ConnectionDeps }

// NewRegisterConnectionHandler needs Store, Vault, Blobs, Outbound and Credentials.
func NewRegisterConnectionHandler(d ConnectionDeps) (RegisterConnectionHandler, error) {
	if err := d.require("RegisterConnection", true, true, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RegisterConnection, ConnectionResult]("RegisterConnection", registerConnectionHandler{d}, d.Deps), nil
}

// Handle imports the document (fetched through the outbound caller for a
// URL), seals the credentials under the connection's own data key, stores
// the document and catalogue by content hash, and records registered,
// document_imported, endpoints_discovered (and credentials_set) in one
// append to the new stream. A bad document or input stores nothing. The
// connection id derives from the request id, so a retried request finds
// the connection it made.
func (h registerConnectionHandler) Handle(ctx context.Context, meta Meta, cmd RegisterConnection) (ConnectionResult, error) {
	if meta.TenantID == "" {
		return ConnectionResult{}, connection.ErrNotFound
	}
	id := meta.derivedID("connection")
	if prior, ok, err := h.replayed(ctx, meta, id); err != nil || ok {
		return prior, err
	}
	name, err := connection.ValidateName(cmd.Name)
	if err != nil {
		return ConnectionResult{}, err
	}
	if cmd.BaseURL != "" {
		if _, err := connection.ValidateBaseURL(cmd.BaseURL); err != nil {
			return ConnectionResult{}, err
		}
	}
	if cmd.Auth != nil {
		if err := cmd.Auth.Validate(); err != nil {
			return ConnectionResult{}, err
		}
	}
	doc, err := h.d.importDocument(ctx, cmd.Document)
	if err != nil {
		return ConnectionResult{}, err
	}
	base := cmd.BaseURL
	if base == "" {
		base = doc.defaultBaseURL(cmd.Document.URL)
	}
	if base, err = connection.ValidateBaseURL(base); err != nil {
		return ConnectionResult{}, err
	}
	creds, err := h.d.sealOrNil(ctx, meta.TenantID, id, cmd.Auth,
		credentials.Document{Schemes: doc.result.SecuritySchemes, BaseURL: base})
	if err != nil {
		return ConnectionResult{}, err
	}
	if err := h.d.store(ctx, &doc); err != nil {
		return ConnectionResult{}, err
	}
	imported, discovered := doc.events(openapi.CatalogueDiff{})
	out, err := change(ctx, h.d.Deps, meta, connection.Stream(id), connectionAggregate(), func(s connection.State) ([]domain.Event, error) {
		return connection.Decide(s, connection.Register{
			ConnectionID: id, Name: name, BaseURL: base, DocumentURL: cmd.Document.URL,
			Document: imported, Endpoints: discovered, Credentials: creds,
		})
	})
	if err != nil {
		return ConnectionResult{}, err
	}
	return connectionResult(id, out), nil
}

// replayed finds the connection an earlier attempt of this request
// registered, sparing the import.
func (h registerConnectionHandler) replayed(ctx context.Context, meta Meta, id string) (ConnectionResult, bool, error) {
	ls, err := load(ctx, h.d.Store, connection.Stream(id), connectionAggregate())
	if err != nil || ls.version == eventstore.NoStream {
		return ConnectionResult{}, false, err
	}
	prior, ok, err := replayed(ls, meta, connection.Stream(id), connectionAggregate())
	if err != nil || !ok {
		return ConnectionResult{}, false, err
	}
	return connectionResult(id, prior), true, nil
}
