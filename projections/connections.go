package projections

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain/connection"
)

// ConnectionsProjector builds the connections view: one row per
// connection with its status, what its document says of itself, the last
// import's diff and the last test. Of the credentials it keeps only the
// type, the masked hint, the key id and the OAuth expiry: never a secret,
// not even sealed.
type ConnectionsProjector struct{}

var _ Projector = (*ConnectionsProjector)(nil)

// NewConnectionsProjector returns the connections projector.
func NewConnectionsProjector() *ConnectionsProjector { return &ConnectionsProjector{} }

// Name implements Projector.
func (*ConnectionsProjector) Name() string { return "connections" }

// Version implements Projector.
func (*ConnectionsProjector) Version() int { return 1 }

// Schema implements Projector.
func (*ConnectionsProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS connections (
    id                    text        PRIMARY KEY,
    tenant_id             text        NOT NULL,
    name                  text        NOT NULL,
    base_url              text        NOT NULL,
    document_url          text        NOT NULL DEFAULT '',
    disabled              boolean     NOT NULL DEFAULT false,
    needs_reauthorization boolean     NOT NULL DEFAULT false,
    deleted               boolean     NOT NULL DEFAULT false,
    auth_type             text        NOT NULL DEFAULT '',
    auth_hint             text        NOT NULL DEFAULT '',
    auth_key_id           text        NOT NULL DEFAULT '',
    auth_expires_at       timestamptz,
    authorized            boolean     NOT NULL DEFAULT false,
    document_hash         text        NOT NULL DEFAULT '',
    document_bytes        bigint      NOT NULL DEFAULT 0,
    openapi_version       text        NOT NULL DEFAULT '',
    title                 text        NOT NULL DEFAULT '',
    api_version           text        NOT NULL DEFAULT '',
    operation_count       integer     NOT NULL DEFAULT 0,
    warnings              jsonb       NOT NULL DEFAULT '[]',
    catalogue_hash        text        NOT NULL DEFAULT '',
    last_import_at        timestamptz,
    last_import_diff      jsonb,
    last_test             jsonb,
    last_test_at          timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    last_version          bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS connections_tenant_page_idx ON connections (tenant_id, created_at, id) WHERE NOT deleted;`
}

// importDiff is the stored form of an import's catalogue diff.
type importDiff struct {
	Added   []connection.OperationRef    `json:"added"`
	Removed []connection.OperationRef    `json:"removed"`
	Changed []connection.OperationChange `json:"changed"`
}

// Apply implements Projector. Every change carries the event's stream
// version and is skipped when the row already holds that version or later.
func (*ConnectionsProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	decoded, ok, err := connection.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	id := connection.IDFromStream(ev.StreamID)
	at := eventTime(ev)
	// set runs "UPDATE connections SET <assignments>" for this event; $1 is
	// the id, $2 the version, $3 the time, further arguments follow.
	set := func(assignments string, args ...any) error {
		return db.Exec(ctx, `UPDATE connections SET `+assignments+`, updated_at = $3, last_version = $2
			WHERE id = $1 AND last_version < $2`, append([]any{id, ev.Version, at}, args...)...)
	}
	switch e := decoded.(type) {
	case connection.Registered:
		err = db.Exec(ctx, `
			INSERT INTO connections (id, tenant_id, name, base_url, document_url, created_at, updated_at, last_version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
			ON CONFLICT (id) DO NOTHING`,
			id, ev.Metadata.TenantID, e.Name, e.BaseURL, e.DocumentURL, at, ev.Version)
	case connection.Updated:
		err = set(`name = coalesce($4, name), base_url = coalesce($5, base_url)`, e.Name, e.BaseURL)
	case connection.DocumentImported:
		warnings, merr := json.Marshal(nonNil(e.Warnings))
		if merr != nil {
			return fmt.Errorf("connections: encode warnings: %w", merr)
		}
		err = set(`document_hash = $4, document_bytes = $5, openapi_version = $6, title = $7, api_version = $8,
			operation_count = $9, warnings = $10`,
			e.DocumentHash, e.DocumentBytes, e.OpenAPIVersion, e.Title, e.APIVersion, e.OperationCount, warnings)
	case connection.EndpointsDiscovered:
		diff, merr := json.Marshal(importDiff{Added: nonNil(e.Added), Removed: nonNil(e.Removed), Changed: nonNil(e.Changed)})
		if merr != nil {
			return fmt.Errorf("connections: encode diff: %w", merr)
		}
		err = set(`catalogue_hash = $4, operation_count = $5, last_import_diff = $6, last_import_at = $3`,
			e.CatalogueHash, e.OperationCount, diff)
	case connection.CredentialsSet:
		err = setCredentials(set, e.Credentials)
	case connection.CredentialsRotated:
		err = setCredentials(set, e.Credentials)
	case connection.OAuthTokensRefreshed:
		err = set(`auth_key_id = $4, auth_expires_at = $5, authorized = true, needs_reauthorization = false`,
			e.KeyID, e.ExpiresAt)
	case connection.ReauthorizationRequired:
		err = set(`needs_reauthorization = true`)
	case connection.Tested:
		test, merr := json.Marshal(e)
		if merr != nil {
			return fmt.Errorf("connections: encode test: %w", merr)
		}
		err = set(`last_test = $4, last_test_at = $3`, test)
	case connection.Disabled:
		err = set(`disabled = true`)
	case connection.Enabled:
		err = set(`disabled = false`)
	case connection.Deleted:
		err = set(`deleted = true, auth_hint = '', auth_key_id = ''`)
	default:
		err = db.Exec(ctx, `UPDATE connections SET last_version = $2 WHERE id = $1 AND last_version < $2`, id, ev.Version)
	}
	if err != nil {
		return fmt.Errorf("connections: apply %s of %s: %w", ev.Type, id, err)
	}
	return nil
}

// setCredentials records what may be shown of new credentials.
func setCredentials(set func(string, ...any) error, c connection.Credentials) error {
	authorized := c.Sealed["access_token"] != "" || c.Sealed["refresh_token"] != ""
	return set(`auth_type = $4, auth_hint = $5, auth_key_id = $6, auth_expires_at = $7, authorized = $8,
		needs_reauthorization = false`, c.Type, c.Hint, c.KeyID, c.ExpiresAt, authorized)
}

// nonNil turns a nil slice into an empty one, so JSON shows [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
