package commands

import (
	"context"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/connection"
)

// ReimportConnectionDocument replaces a connection's OpenAPI document.
type ReimportConnectionDocument struct {
	ConnectionID string
	Document     DocumentSource
}

// ReimportResult reports a re-import: Unchanged when the document was the
// one already imported (nothing is recorded then).
type ReimportResult struct {
	ConnectionResult
	Unchanged bool
}

// ReimportConnectionDocumentHandler handles ReimportConnectionDocument.
type ReimportConnectionDocumentHandler = Handler[ReimportConnectionDocument, ReimportResult]

type reimportConnectionDocumentHandler struct{ d ConnectionDeps }

// NewReimportConnectionDocumentHandler needs Store, Vault, Blobs and Outbound.
func NewReimportConnectionDocumentHandler(d ConnectionDeps) (ReimportConnectionDocumentHandler, error) {
	if err := d.require("ReimportConnectionDocument", true, true, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[ReimportConnectionDocument, ReimportResult]("ReimportConnectionDocument",
		reimportConnectionDocumentHandler{d}, d.Deps), nil
}

// Handle imports the new document, compares its catalogue with the
// current one and records document_imported and endpoints_discovered with
// the added, removed and changed operations. A bad document stores nothing
// and leaves the connection as it was.
func (h reimportConnectionDocumentHandler) Handle(ctx context.Context, meta Meta, cmd ReimportConnectionDocument) (ReimportResult, error) {
	current, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false)
	if err != nil {
		return ReimportResult{}, err
	}
	if prior, ok, err := replayed(current, meta, connection.Stream(cmd.ConnectionID), connectionAggregate()); err != nil || ok {
		return ReimportResult{ConnectionResult: connectionResult(cmd.ConnectionID, prior)}, err
	}
	doc, err := h.d.importDocument(ctx, cmd.Document)
	if err != nil {
		return ReimportResult{}, err
	}
	if doc.result.ContentHash == current.state.DocumentHash {
		return ReimportResult{Unchanged: true,
			ConnectionResult: ConnectionResult{ConnectionID: cmd.ConnectionID, Position: current.last}}, nil
	}
	previous, err := h.d.catalogue(ctx, current.state.CatalogueHash)
	if err != nil {
		return ReimportResult{}, err
	}
	if err := h.d.store(ctx, &doc); err != nil {
		return ReimportResult{}, err
	}
	imported, discovered := doc.events(openapi.Diff(previous, doc.result.Operations))
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, connection.ImportDocument{
		Base: current.state.CatalogueHash, Document: imported, Endpoints: discovered,
	})
	if err != nil {
		return ReimportResult{}, err
	}
	return ReimportResult{ConnectionResult: connectionResult(cmd.ConnectionID, out)}, nil
}
