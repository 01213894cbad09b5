package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain/connection"
)

// ConnectionView is a connection as the connections view holds it.
type ConnectionView struct {
	ID          string
	TenantID    string
	Name        string
	BaseURL     string
	DocumentURL string
	Status      connection.Status
	Auth        ConnectionAuthView
	Document    ConnectionDocumentView
	// LastImport is the latest import's catalogue diff (empty lists on the
	// first import).
	LastImport *ConnectionImportView
	// LastTest is the latest test call, if any.
	LastTest  *ConnectionTestView
	CreatedAt time.Time
	// UpdatedAt is when the latest event of the connection happened.
	UpdatedAt time.Time
	// Version is the connection stream's version the row reflects.
	Version int64
}

// ConnectionAuthView is what may be shown of credentials: never a secret.
type ConnectionAuthView struct {
	// Type is "" when no credentials were given.
	Type      string
	Hint      string
	KeyID     string
	ExpiresAt *time.Time
	// Authorized says an authorization-code connection holds tokens.
	Authorized bool
}

// ConnectionDocumentView is what the imported document says of itself.
type ConnectionDocumentView struct {
	Hash           string
	Bytes          int64
	OpenAPIVersion string
	Title          string
	APIVersion     string
	OperationCount int
	Warnings       []connection.Warning
	CatalogueHash  string
}

// ConnectionImportView is an import's diff against the previous catalogue.
type ConnectionImportView struct {
	At      time.Time
	Added   []connection.OperationRef
	Removed []connection.OperationRef
	Changed []connection.OperationChange
}

// ConnectionTestView is a test call's outcome.
type ConnectionTestView struct {
	connection.Tested
	At time.Time
}

// Connections page sizes.
const (
	DefaultConnectionsPageSize = 50
	MaxConnectionsPageSize     = 200
)

// ListConnectionsOptions selects a page of connections: up to Limit after
// the cursor After (from a previous page's Next; empty for the first page).
type ListConnectionsOptions struct {
	Limit int
	After string
}

// ConnectionsPage is one page of connections in creation order; Next is
// the cursor of the following page, empty on the last one.
type ConnectionsPage struct {
	Connections []ConnectionView
	Next        string
}

func connectionsTable() string { return SchemaName(&ConnectionsProjector{}) + ".connections" }

const connectionColumns = `id, tenant_id, name, base_url, document_url, disabled, needs_reauthorization, deleted,
	auth_type, auth_hint, auth_key_id, auth_expires_at, authorized,
	document_hash, document_bytes, openapi_version, title, api_version, operation_count, warnings, catalogue_hash,
	last_import_at, last_import_diff, last_test, last_test_at, created_at, updated_at, last_version`

func scanConnection(row pgx.Row) (ConnectionView, error) {
	var (
		c                         ConnectionView
		disabled, reauth, deleted bool
		warnings, diff, test      []byte
		lastImportAt, lastTestAt  *time.Time
		document                  = &c.Document
		auth                      = &c.Auth
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.BaseURL, &c.DocumentURL, &disabled, &reauth, &deleted,
		&auth.Type, &auth.Hint, &auth.KeyID, &auth.ExpiresAt, &auth.Authorized,
		&document.Hash, &document.Bytes, &document.OpenAPIVersion, &document.Title, &document.APIVersion,
		&document.OperationCount, &warnings, &document.CatalogueHash,
		&lastImportAt, &diff, &test, &lastTestAt, &c.CreatedAt, &c.UpdatedAt, &c.Version)
	if err != nil {
		return c, err
	}
	c.Status = connection.State{Exists: true, Deleted: deleted, Disabled: disabled, NeedsReauthorization: reauth}.Status()
	c.CreatedAt, c.UpdatedAt, auth.ExpiresAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), utcPtr(auth.ExpiresAt)
	if err := json.Unmarshal(warnings, &document.Warnings); err != nil {
		return c, fmt.Errorf("decode warnings: %w", err)
	}
	if diff != nil && lastImportAt != nil {
		var d importDiff
		if err := json.Unmarshal(diff, &d); err != nil {
			return c, fmt.Errorf("decode import diff: %w", err)
		}
		c.LastImport = &ConnectionImportView{At: lastImportAt.UTC(), Added: d.Added, Removed: d.Removed, Changed: d.Changed}
	}
	if test != nil && lastTestAt != nil {
		c.LastTest = &ConnectionTestView{At: lastTestAt.UTC()}
		if err := json.Unmarshal(test, &c.LastTest.Tested); err != nil {
			return c, fmt.Errorf("decode last test: %w", err)
		}
	}
	return c, nil
}

// GetConnection returns a live (not deleted) connection of the tenant, or
// connection.ErrNotFound.
func GetConnection(ctx context.Context, db QueryDB, tenantID, connectionID string) (ConnectionView, error) {
	c, err := scanConnection(db.QueryRow(ctx, `SELECT `+connectionColumns+` FROM `+connectionsTable()+`
		WHERE tenant_id = $1 AND id = $2 AND NOT deleted`, tenantID, connectionID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ConnectionView{}, connection.ErrNotFound
	}
	if err != nil {
		return ConnectionView{}, fmt.Errorf("get connection %s: %w", connectionID, err)
	}
	return c, nil
}

// ListConnections returns a page of the tenant's live connections in
// creation order (keyset pagination: stable while connections are added).
func ListConnections(ctx context.Context, db QueryDB, tenantID string, opts ListConnectionsOptions) (ConnectionsPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultConnectionsPageSize
	}
	if limit > MaxConnectionsPageSize {
		limit = MaxConnectionsPageSize
	}
	afterTime, afterID, err := decodeCursor(opts.After)
	if err != nil {
		return ConnectionsPage{}, err
	}
	rows, err := db.Query(ctx, `SELECT `+connectionColumns+` FROM `+connectionsTable()+`
		WHERE tenant_id = $1 AND NOT deleted AND (created_at, id) > ($2, $3)
		ORDER BY created_at, id LIMIT $4`, tenantID, afterTime, afterID, limit+1)
	if err != nil {
		return ConnectionsPage{}, fmt.Errorf("list connections: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectionView, error) { return scanConnection(r) })
	if err != nil {
		return ConnectionsPage{}, fmt.Errorf("list connections: %w", err)
	}
	page := ConnectionsPage{Connections: list}
	if len(list) > limit {
		page.Connections = list[:limit]
		last := page.Connections[limit-1]
		page.Next = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}
