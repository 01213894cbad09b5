package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

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
// the event's catalogue hash: one DELETE and one multi-row INSERT, however
// many operations there are.
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
	rows, err := json.Marshal(endpointRows(ops))
	if err != nil {
		return fmt.Errorf("encode endpoint rows: %w", err)
	}
	for _, table := range []string{"endpoints", "search_documents", "terms"} {
		if err := db.Exec(ctx, `DELETE FROM `+table+` WHERE connection_id = $1`, id); err != nil {
			return err
		}
	}
	if err := db.Exec(ctx, insertEndpointsSQL, id, ev.Metadata.TenantID, enabled, rows); err != nil {
		return err
	}
	if err := db.Exec(ctx, `UPDATE connections SET endpoint_count = $2 WHERE connection_id = $1`, id, len(ops)); err != nil {
		return err
	}
	return db.Exec(ctx, `
		WITH stat AS (SELECT word, ndoc FROM ts_stat(format('SELECT search FROM search_documents WHERE connection_id = %L', $1::text)))
		INSERT INTO terms (connection_id, lexeme, tenant_id, endpoints, named)
		SELECT $1, every.word, $2, every.ndoc, coalesce(named.ndoc, 0)
		FROM stat every LEFT JOIN stat named ON named.word = '^' || every.word
		WHERE left(every.word, 1) NOT IN ('^', '@')`,
		id, ev.Metadata.TenantID)
}

// insertEndpointsSQL inserts a connection's endpoints and their search
// documents from one JSON array of endpointRow. A search document holds
// every lexeme of the four classes once, in the best class it occurs in,
// so that the words an operation repeats by construction (the path's
// "/customers/{customer}", the operation id spelling out the path) do not
// outweigh the others.
const insertEndpointsSQL = `
WITH r AS (
    SELECT * FROM json_to_recordset($4::json) AS r(path text, method text, operation_id text, summary text,
        description text, tags text[], parameters json, request_body json, responses json, security json,
        deprecated boolean, side_effect text, produces json, needs json, produces_keys text[],
        owns_keys text[], needs_keys text[], searchable boolean, doc_a text, doc_b text, doc_c text, doc_d text)
), details AS (
    INSERT INTO endpoints (connection_id, path, method, tenant_id, operation_id, summary, description, tags,
        parameters, request_body, responses, security, deprecated, side_effect, produces, needs)
    SELECT $1, r.path, r.method, $2, r.operation_id, r.summary, r.description, coalesce(r.tags, '{}'),
        coalesce(r.parameters, '[]'), r.request_body, coalesce(r.responses, '[]'), r.security,
        r.deprecated, r.side_effect, coalesce(r.produces, '[]'), coalesce(r.needs, '[]')
    FROM r
)
INSERT INTO search_documents (connection_id, path, method, tenant_id, enabled, operation_id, summary,
    side_effect, deprecated, searchable, needs_keys, produces_keys, owns_keys, search)
SELECT $1, r.path, r.method, $2, $3, r.operation_id, r.summary, r.side_effect, r.deprecated, r.searchable,
    coalesce(r.needs_keys, '{}'), coalesce(r.produces_keys, '{}'), coalesce(r.owns_keys, '{}'),
    (SELECT coalesce(string_agg(format('%s:1%s', quote_literal(l.lexeme), l.class), ' '), '')::tsvector ||
            coalesce(string_agg(quote_literal('^' || l.lexeme), ' ') FILTER (WHERE l.class = 'A'), '')::tsvector
     FROM (SELECT DISTINCT ON (lexeme) lexeme, class
           FROM (VALUES ('A', r.doc_a), ('B', r.doc_b), ('C', r.doc_c), ('D', r.doc_d)) AS d(class, text),
                unnest(tsvector_to_array(to_tsvector('english', d.text))) AS lexeme
           ORDER BY lexeme, class) l)
    || array_to_tsvector(ARRAY(SELECT '@own:' || k FROM unnest(coalesce(r.owns_keys, '{}')) k) || ('@tenant:' || $2::text))
    || CASE WHEN r.searchable THEN array_to_tsvector('{@search}') ELSE ''::tsvector END
FROM r`

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
