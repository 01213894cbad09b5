package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/connection"
)

// CatalogueProjector builds the endpoint catalogue: one row per operation
// of every connection, with its schemas, its produces/needs linkage and a
// weighted full-text search document, plus the connections' names and
// enabled flags. A connection's rows are replaced whole by each
// endpoints_discovered event and removed when the connection is deleted.
type CatalogueProjector struct{}

var _ Projector = (*CatalogueProjector)(nil)

// NewCatalogueProjector returns the catalogue projector.
func NewCatalogueProjector() *CatalogueProjector { return &CatalogueProjector{} }

// Name implements Projector.
func (*CatalogueProjector) Name() string { return "catalogue" }

// Version implements Projector.
func (*CatalogueProjector) Version() int { return 1 }

// Schema implements Projector. Endpoints hold what the catalogue lists;
// search_documents the narrow rows search ranks (kept apart so a search
// reads no schemas), with the search document: the weighted lexemes, and
// facet tokens that no query word can match (query words are
// alphanumeric) — "^<lexeme>" for the lexemes naming the endpoint (classes
// A and B), "@tenant:<id>", "@own:<key>" for the keys whose entities the
// endpoint returns, "@search" for search operations — so that one GIN
// index answers every lookup of a search within the tenant. Rows stay
// uncompressed in the table unless they outgrow a page
// (toast_tuple_target): a search reads every candidate's document, and
// decompressing them would cost more than ranking them. The index is
// updated on insert (fastupdate off): catalogues change seldom, and a
// pending list would slow every search until the next vacuum.
//
// The endpoints' schemas are compressed with lz4 where the server has it
// (several times faster than pglz at writing a catalogue like Stripe's).
//
// The terms table counts, per connection, the endpoints whose search
// document holds each lexeme (endpoints) and those it names (named): the
// document frequencies search weighs query terms by.
func (*CatalogueProjector) Schema() string {
	return `
CREATE TABLE IF NOT EXISTS connections (
    connection_id  text        PRIMARY KEY,
    tenant_id      text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    enabled        boolean     NOT NULL DEFAULT true,
    deleted        boolean     NOT NULL DEFAULT false,
    catalogue_hash text        NOT NULL DEFAULT '',
    endpoint_count integer     NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL,
    last_version   bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS connections_tenant_idx ON connections (tenant_id) WHERE NOT deleted;
CREATE TABLE IF NOT EXISTS endpoints (
    connection_id text     NOT NULL,
    path          text     NOT NULL,
    method        text     NOT NULL,
    tenant_id     text     NOT NULL,
    operation_id  text     NOT NULL,
    summary       text     NOT NULL,
    description   text     NOT NULL,
    tags          text[]   NOT NULL,
    parameters    json     NOT NULL,
    request_body  json,
    responses     json     NOT NULL,
    security      json,
    deprecated    boolean  NOT NULL,
    side_effect   text     NOT NULL,
    produces      json     NOT NULL,
    needs         json     NOT NULL,
    PRIMARY KEY (connection_id, path, method)
);
CREATE UNIQUE INDEX IF NOT EXISTS endpoints_operation_idx ON endpoints (connection_id, operation_id);
DO $$
BEGIN
    IF (SELECT attcompression FROM pg_attribute WHERE attrelid = 'endpoints'::regclass AND attname = 'responses') <> 'l' THEN
        ALTER TABLE endpoints ALTER COLUMN parameters SET COMPRESSION lz4, ALTER COLUMN request_body SET COMPRESSION lz4,
            ALTER COLUMN responses SET COMPRESSION lz4;
    END IF;
EXCEPTION WHEN feature_not_supported THEN
    NULL; -- a server without lz4 keeps pglz
END
$$;
CREATE TABLE IF NOT EXISTS search_documents (
    connection_id text     NOT NULL,
    path          text     NOT NULL,
    method        text     NOT NULL,
    tenant_id     text     NOT NULL,
    enabled       boolean  NOT NULL,
    operation_id  text     NOT NULL,
    summary       text     NOT NULL,
    side_effect   text     NOT NULL,
    deprecated    boolean  NOT NULL,
    searchable    boolean  NOT NULL,
    needs_keys    text[]   NOT NULL,
    produces_keys text[]   NOT NULL,
    owns_keys     text[]   NOT NULL,
    search        tsvector NOT NULL,
    PRIMARY KEY (connection_id, path, method)
) WITH (toast_tuple_target = 8160);
CREATE INDEX IF NOT EXISTS search_documents_search_idx ON search_documents USING gin (search) WITH (fastupdate = off);
CREATE INDEX IF NOT EXISTS search_documents_produces_idx ON search_documents USING gin (produces_keys) WITH (fastupdate = off);
CREATE TABLE IF NOT EXISTS terms (
    connection_id text    NOT NULL,
    lexeme        text    NOT NULL,
    tenant_id     text    NOT NULL,
    endpoints     integer NOT NULL,
    named         integer NOT NULL,
    PRIMARY KEY (connection_id, lexeme)
);
CREATE INDEX IF NOT EXISTS terms_tenant_lexeme_idx ON terms (tenant_id, lexeme);`
}

// Apply implements Projector. Each change is guarded by the connection
// stream's version: an event at or below the connection row's last_version
// was applied already and is skipped.
func (p *CatalogueProjector) Apply(ctx context.Context, db DB, ev eventstore.RecordedEvent) error {
	if !strings.HasPrefix(ev.StreamID, connection.StreamPrefix) {
		return nil
	}
	decoded, ok, err := connection.Decode(ev.Type, ev.Metadata.SchemaVersion, ev.Data)
	if err != nil || !ok {
		return err
	}
	id := strings.TrimPrefix(ev.StreamID, connection.StreamPrefix)
	switch e := decoded.(type) {
	case connection.Registered:
		err = p.upsert(ctx, db, ev, id, "name = EXCLUDED.name", connectionRow{name: e.Name, enabled: true})
	case connection.Updated:
		if e.Name == nil {
			return nil
		}
		err = p.upsert(ctx, db, ev, id, "name = EXCLUDED.name", connectionRow{name: *e.Name, enabled: true})
	case connection.Disabled:
		err = p.setEnabled(ctx, db, ev, id, false)
	case connection.Enabled:
		err = p.setEnabled(ctx, db, ev, id, true)
	case connection.Deleted:
		err = p.deleted(ctx, db, ev, id)
	case connection.EndpointsDiscovered:
		err = p.discovered(ctx, db, ev, id, e)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalogue: apply %s of %s: %w", ev.Type, id, err)
	}
	return nil
}

// connectionRow is a connection row as an event creates it.
type connectionRow struct {
	name             string
	enabled, deleted bool
}

// upsert creates the connection's row, or changes it with set (an UPDATE
// SET list over EXCLUDED) when ev is newer than the row and of the tenant
// that registered the connection.
func (p *CatalogueProjector) upsert(ctx context.Context, db DB, ev eventstore.RecordedEvent, id, set string, row connectionRow) error {
	return db.Exec(ctx, `
		INSERT INTO connections (connection_id, tenant_id, name, enabled, deleted, updated_at, last_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (connection_id) DO UPDATE SET `+set+`, updated_at = EXCLUDED.updated_at, last_version = EXCLUDED.last_version
		WHERE connections.last_version < EXCLUDED.last_version AND connections.tenant_id = EXCLUDED.tenant_id`,
		id, ev.Metadata.TenantID, row.name, row.enabled, row.deleted, eventTime(ev), ev.Version)
}

// setEnabled flags the connection, then makes its search documents follow
// the connection row (so a replayed older event changes nothing).
func (p *CatalogueProjector) setEnabled(ctx context.Context, db DB, ev eventstore.RecordedEvent, id string, enabled bool) error {
	set := "enabled = NOT connections.deleted"
	if !enabled {
		set = "enabled = false"
	}
	if err := p.upsert(ctx, db, ev, id, set, connectionRow{enabled: enabled}); err != nil {
		return err
	}
	return db.Exec(ctx, `
		UPDATE search_documents s SET enabled = c.enabled
		FROM connections c
		WHERE c.connection_id = $1 AND s.connection_id = c.connection_id AND s.enabled <> c.enabled`, id)
}

// deleted marks the connection deleted and removes its catalogue.
func (p *CatalogueProjector) deleted(ctx context.Context, db DB, ev eventstore.RecordedEvent, id string) error {
	if err := p.upsert(ctx, db, ev, id, "enabled = false, deleted = true, endpoint_count = 0", connectionRow{deleted: true}); err != nil {
		return err
	}
	for _, table := range []string{"endpoints", "search_documents", "terms"} {
		if err := db.Exec(ctx, `DELETE FROM `+table+` WHERE connection_id = $1
			AND (SELECT deleted FROM connections WHERE connection_id = $1)`, id); err != nil {
			return err
		}
	}
	return nil
}

// discovered replaces the connection's catalogue with the one stored under
// the event's catalogue hash. The statements are queued (the runner sends
// them in batches): a DELETE per table, one INSERT per endpoint and search
// document, one for the terms. The one round trip of its own asks
// PostgreSQL for the lexemes of every search document's text (see
// searchVectors).
func (p *CatalogueProjector) discovered(ctx context.Context, db DB, ev eventstore.RecordedEvent, id string, e connection.EndpointsDiscovered) error {
	var enabled bool
	err := db.QueryRow(ctx, `
		INSERT INTO connections (connection_id, tenant_id, catalogue_hash, updated_at, last_version)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (connection_id) DO UPDATE SET catalogue_hash = EXCLUDED.catalogue_hash,
		    updated_at = EXCLUDED.updated_at, last_version = EXCLUDED.last_version
		WHERE connections.last_version < EXCLUDED.last_version AND connections.tenant_id = EXCLUDED.tenant_id
		    AND NOT connections.deleted
		RETURNING enabled`,
		id, ev.Metadata.TenantID, e.CatalogueHash, eventTime(ev), ev.Version).Scan(&enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // applied already, or the connection is deleted
	}
	if err != nil {
		return err
	}
	data, err := blobstore.Get(ctx, db, e.CatalogueHash)
	if err != nil {
		return err
	}
	var ops []openapi.Operation
	if err := json.Unmarshal(data, &ops); err != nil {
		return fmt.Errorf("decode catalogue %s: %w", e.CatalogueHash, err)
	}
	rows := endpointRows(ops)
	vectors, err := searchVectors(ctx, db, ev.Metadata.TenantID, rows)
	if err != nil {
		return err
	}
	for _, table := range []string{"endpoints", "search_documents", "terms"} {
		if err := db.Exec(ctx, `DELETE FROM `+table+` WHERE connection_id = $1`, id); err != nil {
			return err
		}
	}
	for i := range rows {
		if err := insertEndpoint(ctx, db, id, ev.Metadata.TenantID, enabled, &rows[i], vectors[i]); err != nil {
			return err
		}
	}
	if err := db.Exec(ctx, `UPDATE connections SET endpoint_count = $2 WHERE connection_id = $1`, id, len(ops)); err != nil {
		return err
	}
	lexemes, endpoints, named := termCounts(vectors)
	return db.Exec(ctx, `
		INSERT INTO terms (connection_id, lexeme, tenant_id, endpoints, named)
		SELECT $1, t.lexeme, $2, t.endpoints, t.named
		FROM unnest($3::text[], $4::integer[], $5::integer[]) AS t(lexeme, endpoints, named)`,
		id, ev.Metadata.TenantID, lexemes, endpoints, named)
}

// insertEndpoint queues the INSERTs of one endpoint and its search document.
func insertEndpoint(ctx context.Context, db DB, id, tenantID string, enabled bool, r *endpointRow, search pgtype.TSVector) error {
	cols, err := r.jsonColumns()
	if err != nil {
		return fmt.Errorf("encode endpoint %s %s: %w", r.Method, r.Path, err)
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	if err := db.Exec(ctx, `
		INSERT INTO endpoints (connection_id, path, method, tenant_id, operation_id, summary, description, tags,
		    parameters, request_body, responses, security, deprecated, side_effect, produces, needs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		id, r.Path, r.Method, tenantID, r.OperationID, r.Summary, r.Description, tags,
		cols.parameters, cols.requestBody, cols.responses, cols.security, r.Deprecated, string(r.SideEffect),
		cols.produces, cols.needs); err != nil {
		return err
	}
	return db.Exec(ctx, `
		INSERT INTO search_documents (connection_id, path, method, tenant_id, enabled, operation_id, summary,
		    side_effect, deprecated, searchable, needs_keys, produces_keys, owns_keys, search)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		id, r.Path, r.Method, tenantID, enabled, r.OperationID, r.Summary, string(r.SideEffect), r.Deprecated,
		r.Searchable, nonNil(r.NeedsKeys), nonNil(r.ProducesKeys), nonNil(r.OwnsKeys), search)
}

// endpointJSON are an endpoint's json columns as the read model stores
// them: the lists empty rather than null, request body and security null
// when absent.
type endpointJSON struct {
	parameters, responses, produces, needs json.RawMessage
	// requestBody and security are nil (NULL) or json.RawMessage.
	requestBody, security any
}

func (r *endpointRow) jsonColumns() (endpointJSON, error) {
	var c endpointJSON
	var err error
	list := func(v any, empty bool) json.RawMessage {
		if err != nil || empty {
			return json.RawMessage("[]")
		}
		var out []byte
		out, err = json.Marshal(v)
		return out
	}
	c.parameters = list(r.Parameters, r.Parameters == nil)
	c.responses = list(r.Responses, r.Responses == nil)
	c.produces = list(r.Produces, r.Produces == nil)
	c.needs = list(r.Needs, r.Needs == nil)
	if r.RequestBody != nil && err == nil {
		c.requestBody = list(r.RequestBody, false)
	}
	if r.Security != nil && err == nil {
		c.security = list(r.Security, false)
	}
	return c, err
}

// endpointRow is one operation as insertEndpointsSQL reads it.
type endpointRow struct {
	Path         string                        `json:"path"`
	Method       string                        `json:"method"`
	OperationID  string                        `json:"operation_id"`
	Summary      string                        `json:"summary"`
	Description  string                        `json:"description"`
	Tags         []string                      `json:"tags"`
	Parameters   []openapi.Parameter           `json:"parameters"`
	RequestBody  *openapi.RequestBody          `json:"request_body"`
	Responses    []openapi.Response            `json:"responses"`
	Security     []openapi.SecurityAlternative `json:"security"`
	Deprecated   bool                          `json:"deprecated"`
	SideEffect   openapi.SideEffect            `json:"side_effect"`
	Produces     []openapi.ProducedValue       `json:"produces"`
	Needs        []openapi.NeededValue         `json:"needs"`
	ProducesKeys []string                      `json:"produces_keys"`
	OwnsKeys     []string                      `json:"owns_keys"`
	NeedsKeys    []string                      `json:"needs_keys"`
	Searchable   bool                          `json:"searchable"`
	DocA         string                        `json:"doc_a"`
	DocB         string                        `json:"doc_b"`
	DocC         string                        `json:"doc_c"`
	DocD         string                        `json:"doc_d"`
}

func endpointRows(ops []openapi.Operation) []endpointRow {
	owned := map[string]bool{}
	for _, op := range ops {
		for _, key := range ownedKeys(op) {
			owned[key] = true
		}
	}
	rows := make([]endpointRow, len(ops))
	for i, op := range ops {
		doc := buildSearchDocument(op)
		needs := requiredNeedKeys(op)
		for _, key := range bodyReferences(op, owned) {
			if !slices.Contains(needs, key) {
				needs = append(needs, key)
			}
		}
		rows[i] = endpointRow{
			Path: op.Path, Method: op.Method, OperationID: op.OperationID, Summary: op.Summary,
			Description: op.Description, Tags: op.Tags, Parameters: op.Parameters, RequestBody: op.RequestBody,
			Responses: op.Responses, Security: op.Security, Deprecated: op.Deprecated, SideEffect: op.SideEffect,
			Produces: op.Produces, Needs: op.Needs, ProducesKeys: producedKeys(op), OwnsKeys: ownedKeys(op), NeedsKeys: needs,
			Searchable: isSearchOperation(op),
			DocA:       doc.A, DocB: doc.B, DocC: doc.C, DocD: doc.D,
		}
	}
	return rows
}

// bodyReferences lists the keys of the entities op's request body must
// name: required top-level string properties called like an entity whose
// id the catalogue returns ("customer" when some operation returns
// customers' ids as customer_id), as payments APIs name references.
func bodyReferences(op openapi.Operation, owned map[string]bool) []string {
	if op.RequestBody == nil || len(op.RequestBody.Schema) == 0 {
		return nil
	}
	var body struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type   any    `json:"type"`
			Format string `json:"format"`
		} `json:"properties"`
	}
	if json.Unmarshal(op.RequestBody.Schema, &body) != nil {
		return nil
	}
	var keys []string
	for _, name := range body.Required {
		prop, ok := body.Properties[name]
		key := name + "_id"
		if !ok || prop.Type != "string" || prop.Format == "binary" || genericFieldNames[name] || !owned[key] {
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// genericFieldNames name what a value is, not which entity it refers to.
var genericFieldNames = map[string]bool{
	"value": true, "values": true, "name": true, "type": true, "data": true, "key": true, "code": true, "status": true,
}

// producedKeys lists the distinct keys op produces.
func producedKeys(op openapi.Operation) []string {
	var keys []string
	for _, p := range op.Produces {
		if !slices.Contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
	}
	return keys
}

// ownedKeys lists the keys op produces as the id of the entities it
// returns ("/data/*/id"), rather than as a reference to another entity.
func ownedKeys(op openapi.Operation) []string {
	var keys []string
	for _, p := range op.Produces {
		if strings.HasSuffix(p.Field, "/id") && !slices.Contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
	}
	return keys
}

// freeTextParameters name the query parameters that take words to search for.
var freeTextParameters = map[string]bool{
	"q": true, "query": true, "search": true, "term": true, "keyword": true, "keywords": true, "text": true,
	"search_query": true, "search_term": true,
}

// isSearchOperation reports whether op finds things by words: a GET with a
// free-text query parameter, or whose path has a "search" segment.
func isSearchOperation(op openapi.Operation) bool {
	if !strings.EqualFold(op.Method, "GET") {
		return false
	}
	for _, p := range op.Parameters {
		if p.In == "query" && freeTextParameters[strings.ToLower(p.Name)] {
			return true
		}
	}
	return slices.Contains(strings.Split(strings.ToLower(op.Path), "/"), "search")
}

// requiredNeedKeys lists the distinct keys op cannot be called without.
func requiredNeedKeys(op openapi.Operation) []string {
	var keys []string
	for _, n := range op.Needs {
		if n.Required && !slices.Contains(keys, n.Key) {
			keys = append(keys, n.Key)
		}
	}
	return keys
}
