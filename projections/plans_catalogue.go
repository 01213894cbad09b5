package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// PlanningConnection is one of a tenant's connections as the planner sees
// it: its catalogue (by content hash) and what it authenticates with —
// the credentials' type and key id, never a secret.
type PlanningConnection struct {
	ID      string
	Name    string
	Enabled bool
	// CatalogueHash names the connection's catalogue (a JSON array of
	// openapi.Operation) in the blob store; Endpoints counts its operations.
	CatalogueHash string
	Endpoints     int
	// CredentialType is "" when the connections view has no credentials
	// for it; CredentialKeyID names the vault key that sealed them.
	CredentialType  string
	CredentialKeyID string
}

// PlanningConnections lists the tenant's connections that are not deleted
// and have a catalogue, in id order, with their credentials' type and key
// id from the connections view.
func PlanningConnections(ctx context.Context, db QueryDB, tenantID string) ([]PlanningConnection, error) {
	rows, err := db.Query(ctx, `
		SELECT c.connection_id, c.name, c.enabled, c.catalogue_hash, c.endpoint_count,
		    coalesce(v.auth_type, ''), coalesce(v.auth_key_id, '')
		FROM `+SchemaName(&CatalogueProjector{})+`.connections c
		LEFT JOIN `+connectionsTable()+` v ON v.id = c.connection_id AND v.tenant_id = c.tenant_id
		WHERE c.tenant_id = $1 AND NOT c.deleted AND c.catalogue_hash <> ''
		ORDER BY c.connection_id COLLATE "C"`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list planning connections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PlanningConnection, error) {
		var c PlanningConnection
		err := r.Scan(&c.ID, &c.Name, &c.Enabled, &c.CatalogueHash, &c.Endpoints, &c.CredentialType, &c.CredentialKeyID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list planning connections: %w", err)
	}
	return out, nil
}
