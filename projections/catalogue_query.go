package projections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/apiq/apiq/domain"
)

// ErrConnectionNotFound is returned for a connection the tenant does not
// have (never registered, deleted, or another tenant's).
var ErrConnectionNotFound = domain.NewError(domain.ErrNotFound, "connection_not_found", "connection not found")

// ErrEndpointNotFound is returned for an operation the connection does not have.
var ErrEndpointNotFound = domain.NewError(domain.ErrNotFound, "endpoint_not_found", "endpoint not found")

// EndpointView is one operation of a connection's catalogue, as the
// catalogue read model holds it (schemas as the openapi adapter wrote them).
type EndpointView struct {
	ConnectionID string
	OperationID  string
	Method       string
	Path         string
	Summary      string
	Description  string
	Tags         []string
	// Parameters, RequestBody, Responses, Security, Produces and Needs are
	// the JSON of the corresponding openapi.Operation fields (RequestBody
	// and Security may be null).
	Parameters  json.RawMessage
	RequestBody json.RawMessage
	Responses   json.RawMessage
	Security    json.RawMessage
	Produces    json.RawMessage
	Needs       json.RawMessage
	Deprecated  bool
	SideEffect  string
}

// Endpoint list page sizes.
const (
	DefaultEndpointsPageSize = 50
	MaxEndpointsPageSize     = 200
)

// ListEndpointsOptions filters and pages a connection's catalogue. Zero
// values do not filter.
type ListEndpointsOptions struct {
	// Query keeps the endpoints whose search document matches it, in web
	// search syntax ("refund charge", "\"payment intent\"", "-delete",
	// "customer or invoice"); identifiers are split into words.
	Query string
	// Method, Tag and SideEffect match exactly (Method and Tag ignoring case).
	Method     string
	Tag        string
	SideEffect string
	Deprecated *bool
	Limit      int
	// After is a previous page's Next cursor.
	After string
}

// EndpointsPage is one page of a catalogue in path then method order; Next
// is the cursor of the following page, empty on the last one.
type EndpointsPage struct {
	Endpoints []EndpointView
	Next      string
}

const endpointColumns = `e.connection_id, e.operation_id, e.method, e.path, e.summary, e.description, e.tags,
    e.parameters, e.request_body, e.responses, e.security, e.produces, e.needs, e.deprecated, e.side_effect`

func scanEndpoint(row pgx.Row) (EndpointView, error) {
	var e EndpointView
	err := row.Scan(&e.ConnectionID, &e.OperationID, &e.Method, &e.Path, &e.Summary, &e.Description, &e.Tags,
		&e.Parameters, &e.RequestBody, &e.Responses, &e.Security, &e.Produces, &e.Needs, &e.Deprecated, &e.SideEffect)
	return e, err
}

// checkConnection returns ErrConnectionNotFound unless the tenant has the
// (undeleted) connection.
func checkConnection(ctx context.Context, db QueryDB, tenantID, connectionID string) error {
	var found bool
	err := db.QueryRow(ctx, `SELECT true FROM rm_catalogue.connections
		WHERE connection_id = $1 AND tenant_id = $2 AND NOT deleted`, connectionID, tenantID).Scan(&found)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrConnectionNotFound
	}
	if err != nil {
		return fmt.Errorf("find connection %s: %w", connectionID, err)
	}
	return nil
}

// ListEndpoints returns a page of a connection's catalogue, filtered, in
// path then method order (keyset pagination: stable while the catalogue
// does not change). A connection of another tenant is not found.
func ListEndpoints(ctx context.Context, db QueryDB, tenantID, connectionID string, opts ListEndpointsOptions) (EndpointsPage, error) {
	if err := checkConnection(ctx, db, tenantID, connectionID); err != nil {
		return EndpointsPage{}, err
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultEndpointsPageSize
	}
	limit = min(limit, MaxEndpointsPageSize)
	afterPath, afterMethod, err := decodeEndpointCursor(opts.After)
	if err != nil {
		return EndpointsPage{}, err
	}
	var query *string
	if q := strings.TrimSpace(opts.Query); q != "" {
		split := splitIdentifiers(q)
		query = &split
	}
	rows, err := db.Query(ctx, `SELECT `+endpointColumns+`
		FROM rm_catalogue.endpoints e
		WHERE e.connection_id = $1 AND e.tenant_id = $2
		  AND (e.path, e.method) > ($3, $4)
		  AND ($5::text IS NULL OR EXISTS (
		      SELECT 1 FROM rm_catalogue.search_documents s
		      WHERE s.connection_id = e.connection_id AND s.path = e.path AND s.method = e.method
		        AND s.search @@ websearch_to_tsquery('english', $5)))
		  AND ($6 = '' OR e.method = upper($6))
		  AND ($7 = '' OR lower($7) = ANY (SELECT lower(t) FROM unnest(e.tags) t))
		  AND ($8 = '' OR e.side_effect = $8)
		  AND ($9::boolean IS NULL OR e.deprecated = $9)
		ORDER BY e.path, e.method
		LIMIT $10`,
		connectionID, tenantID, afterPath, afterMethod, query, opts.Method, opts.Tag, opts.SideEffect, opts.Deprecated, limit+1)
	if err != nil {
		return EndpointsPage{}, fmt.Errorf("list endpoints of %s: %w", connectionID, err)
	}
	endpoints, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EndpointView, error) { return scanEndpoint(r) })
	if err != nil {
		return EndpointsPage{}, fmt.Errorf("list endpoints of %s: %w", connectionID, err)
	}
	page := EndpointsPage{Endpoints: endpoints}
	if len(endpoints) > limit {
		page.Endpoints = endpoints[:limit]
		last := page.Endpoints[limit-1]
		page.Next = encodeEndpointCursor(last.Path, last.Method)
	}
	return page, nil
}

// GetEndpoint returns one operation of a connection's catalogue by its
// operation id (what SearchEndpoints returns), with its schemas.
func GetEndpoint(ctx context.Context, db QueryDB, tenantID, connectionID, operationID string) (EndpointView, error) {
	if err := checkConnection(ctx, db, tenantID, connectionID); err != nil {
		return EndpointView{}, err
	}
	e, err := scanEndpoint(db.QueryRow(ctx, `SELECT `+endpointColumns+`
		FROM rm_catalogue.endpoints e
		WHERE e.connection_id = $1 AND e.tenant_id = $2 AND e.operation_id = $3`, connectionID, tenantID, operationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return EndpointView{}, ErrEndpointNotFound
	}
	if err != nil {
		return EndpointView{}, fmt.Errorf("get endpoint %s of %s: %w", operationID, connectionID, err)
	}
	return e, nil
}

// splitIdentifiers spaces out the words of camel-case identifiers in a
// web search query ("GetCharges" → "Get Charges"), as search documents
// hold them; snake and kebab case split by themselves.
func splitIdentifiers(q string) string {
	var b strings.Builder
	runes := []rune(q)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func encodeEndpointCursor(path, method string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(method + " " + path))
}

func decodeEndpointCursor(s string) (string, string, error) {
	if s == "" {
		return "", "", nil
	}
	bad := domain.Invalid("cursor", "invalid_cursor", "the page cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", "", bad
	}
	method, path, ok := strings.Cut(string(raw), " ")
	if !ok || method == "" {
		return "", "", bad
	}
	return path, method, nil
}
