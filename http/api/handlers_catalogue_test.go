package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/projections"
)

// pgCatalogue serves the catalogue routes from the real read model, as
// the composition root does.
type pgCatalogue struct{ pool *pgxpool.Pool }

func (c pgCatalogue) ListEndpoints(ctx context.Context, tenantID, connectionID string, f EndpointFilter) ([]Endpoint, string, error) {
	page, err := projections.ListEndpoints(ctx, c.pool, tenantID, connectionID, projections.ListEndpointsOptions{
		Query: f.Query, Method: f.Method, Tag: f.Tag, SideEffect: f.SideEffect, Deprecated: f.Deprecated, Limit: f.Limit, After: f.After,
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]Endpoint, len(page.Endpoints))
	for i, e := range page.Endpoints {
		out[i] = Endpoint{ConnectionID: e.ConnectionID, OperationID: e.OperationID, Method: e.Method, Path: e.Path,
			Summary: e.Summary, Description: e.Description, Tags: e.Tags, Parameters: e.Parameters, RequestBody: e.RequestBody,
			Responses: e.Responses, Security: e.Security, Deprecated: e.Deprecated, SideEffect: e.SideEffect,
			Produces: e.Produces, Needs: e.Needs}
	}
	return out, page.Next, nil
}

func (c pgCatalogue) SearchEndpoints(ctx context.Context, tenantID, query string, limit, offset int) ([]EndpointHit, error) {
	hits, err := projections.SearchEndpoints(ctx, c.pool, tenantID, query, projections.SearchOptions{Limit: limit, Offset: offset})
	if err != nil {
		return nil, err
	}
	out := make([]EndpointHit, len(hits))
	for i, h := range hits {
		out[i] = EndpointHit{ConnectionID: h.ConnectionID, ConnectionName: h.ConnectionName, OperationID: h.OperationID,
			Method: h.Method, Path: h.Path, Summary: h.Summary, Score: h.Score, SideEffect: h.SideEffect,
			Deprecated: h.Deprecated, Needs: h.Needs}
		if h.ProvidesFor != nil {
			out[i].ProvidesFor = &ProvidedFor{OperationID: h.ProvidesFor.OperationID, Key: h.ProvidesFor.Key}
		}
	}
	return out, nil
}

// movieOperations is a small film API: a search producing movie ids, the
// details and credits needing one, and a deprecated destructive operation.
func movieOperations() []openapi.Operation {
	movieID := []openapi.Parameter{{Name: "movie_id", In: "path", Required: true}}
	needsMovie := []openapi.NeededValue{{Key: "movie_id", Name: "movie_id", In: "path", Required: true}}
	return []openapi.Operation{
		{Method: "GET", Path: "/search/movie", OperationID: "searchMovies", Summary: "Search for movies by their title.",
			Tags: []string{"search"}, Parameters: []openapi.Parameter{{Name: "query", In: "query", Required: true}},
			SideEffect: openapi.SideEffectRead, Produces: []openapi.ProducedValue{{Key: "movie_id", Field: "/results/*/id"}}},
		{Method: "GET", Path: "/movie/{movie_id}", OperationID: "getMovie", Summary: "Get the details of a movie.",
			Tags: []string{"movies"}, Parameters: movieID, SideEffect: openapi.SideEffectRead, Needs: needsMovie},
		{Method: "GET", Path: "/movie/{movie_id}/credits", OperationID: "getMovieCredits", Summary: "Get the cast and crew of a movie.",
			Tags: []string{"movies"}, Parameters: movieID, SideEffect: openapi.SideEffectRead, Needs: needsMovie},
		{Method: "DELETE", Path: "/movie/{movie_id}/rating", OperationID: "deleteRating", Summary: "Remove your rating of a movie.",
			Tags: []string{"movies"}, Parameters: movieID, SideEffect: openapi.SideEffectDestructive, Needs: needsMovie, Deprecated: true},
	}
}

// loadCatalogue projects a connection and its catalogue into pool, the way
// the projection runner would.
func loadCatalogue(t *testing.T, pool *pgxpool.Pool, tenantID, connectionID, name string, ops []openapi.Operation) {
	t.Helper()
	ctx := context.Background()
	blobs, err := blobstore.New(pool)
	require.NoError(t, err)
	data, err := json.Marshal(ops)
	require.NoError(t, err)
	hash, err := blobs.Put(ctx, "application/json", data)
	require.NoError(t, err)
	p := projections.NewCatalogueProjector()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	schema := pgx.Identifier{projections.SchemaName(p)}.Sanitize()
	_, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+"; SET LOCAL search_path TO "+schema+"; "+p.Schema())
	require.NoError(t, err)
	events := []domain.Event{
		connection.Registered{ConnectionID: connectionID, Name: name, BaseURL: "https://api.example.com"},
		connection.EndpointsDiscovered{CatalogueHash: hash, OperationCount: len(ops)},
	}
	for version, ev := range events {
		payload, err := json.Marshal(ev)
		require.NoError(t, err)
		require.NoError(t, p.Apply(ctx, catalogueTx{tx}, eventstore.RecordedEvent{
			ID: uuid.New(), StreamID: connection.StreamPrefix + connectionID, Version: int64(version), Type: ev.EventType(),
			Data: payload, RecordedAt: time.Now(),
			Metadata: eventstore.Metadata{TenantID: tenantID, SchemaVersion: ev.SchemaVersion()},
		}))
	}
	require.NoError(t, tx.Commit(ctx))
}

type catalogueTx struct{ pgx.Tx }

func (t catalogueTx) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := t.Tx.Exec(ctx, sql, args...)
	return err
}

func newCatalogueHarness(t *testing.T) *harness {
	t.Helper()
	pool := pgtest.NewPool(t)
	loadCatalogue(t, pool, "tenant-1", "films", "Films", movieOperations())
	loadCatalogue(t, pool, "tenant-2", "theirs", "Their films", movieOperations())
	return newHarness(t, func(_ *Config, d *Deps) { d.Catalogue = pgCatalogue{pool: pool} })
}

type searchBody struct {
	Items      []EndpointHit `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func TestSearchEndpointsRoute(t *testing.T) {
	t.Parallel()
	h := newCatalogueHarness(t)

	rec := h.do(http.MethodGet, "/v1/endpoints/search?q="+url.QueryEscape("who starred in Inception?"), "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var body searchBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.GreaterOrEqual(t, len(body.Items), 2)
	assert.Equal(t, "getMovieCredits", body.Items[0].OperationID)
	assert.Equal(t, "films", body.Items[0].ConnectionID, "another tenant's connection is never searched")
	assert.Equal(t, "Films", body.Items[0].ConnectionName)
	assert.Equal(t, []string{"movie_id"}, body.Items[0].Needs)
	assert.Positive(t, body.Items[0].Score)
	assert.Equal(t, "searchMovies", body.Items[1].OperationID)
	assert.Equal(t, &ProvidedFor{OperationID: "getMovieCredits", Key: "movie_id"}, body.Items[1].ProvidesFor,
		"the search yielding the movie id comes right after the operation needing it")
	for _, item := range body.Items {
		assert.Equal(t, "films", item.ConnectionID)
	}
	var raw map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	first := raw["items"].([]any)[0].(map[string]any)
	for _, field := range []string{"connection_id", "operation_id", "method", "path", "summary", "score"} {
		assert.Contains(t, first, field)
	}
	assert.Equal(t, []any{}, raw["items"].([]any)[1].(map[string]any)["needs"], "an operation needing nothing has empty needs")

	// Pages follow one another until the ranking ends.
	var paged []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		path := "/v1/endpoints/search?limit=1&q=movie"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		rec := h.do(http.MethodGet, path, "", asAdmin...)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var page searchBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		require.LessOrEqual(t, len(page.Items), 1)
		for _, item := range page.Items {
			paged = append(paged, item.OperationID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	rec = h.do(http.MethodGet, "/v1/endpoints/search?limit=20&q=movie", "", asAdmin...)
	var whole searchBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &whole))
	var all []string
	for _, item := range whole.Items {
		all = append(all, item.OperationID)
	}
	assert.Equal(t, all, paged)
	assert.Len(t, all, 4)

	rec = h.do(http.MethodGet, "/v1/endpoints/search?q=zebra", "", asUser...)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"items":[]}`, rec.Body.String())

	for _, bad := range []string{"/v1/endpoints/search", "/v1/endpoints/search?q=", "/v1/endpoints/search?q=x&limit=0",
		"/v1/endpoints/search?q=x&limit=101", "/v1/endpoints/search?q=x&cursor=nope", "/v1/endpoints/search?q=x&cursor=" + encodeSearchCursor(500)} {
		rec := h.do(http.MethodGet, bad, "", asUser...)
		assert.Equal(t, http.StatusBadRequest, rec.Code, bad)
		assert.Equal(t, apierror.CodeValidationFailed, errorBody(t, rec).Code, bad)
	}
	rec = h.do(http.MethodGet, "/v1/endpoints/search?q=movie", "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}

type endpointsBody struct {
	Items      []Endpoint `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

func TestListEndpointsRoute(t *testing.T) {
	t.Parallel()
	h := newCatalogueHarness(t)
	list := func(query string) (int, endpointsBody) {
		t.Helper()
		rec := h.do(http.MethodGet, "/v1/connections/films/endpoints"+query, "", asUser...)
		var body endpointsBody
		if rec.Code == http.StatusOK {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		}
		return rec.Code, body
	}
	ids := func(body endpointsBody) []string {
		var out []string
		for _, e := range body.Items {
			out = append(out, e.OperationID)
		}
		return out
	}

	code, body := list("")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"getMovie", "getMovieCredits", "deleteRating", "searchMovies"}, ids(body), "path then method order")
	assert.Empty(t, body.NextCursor)
	credits := body.Items[1]
	assert.Equal(t, "films", credits.ConnectionID)
	assert.Equal(t, "/movie/{movie_id}/credits", credits.Path)
	assert.Equal(t, []string{"movies"}, credits.Tags)
	assert.JSONEq(t, `[{"key":"movie_id","name":"movie_id","in":"path","required":true}]`, string(credits.Needs))

	tests := map[string][]string{
		"?method=DELETE":           {"deleteRating"},
		"?method=get&tag=search":   {"searchMovies"},
		"?side_effect=read":        {"getMovie", "getMovieCredits", "searchMovies"},
		"?deprecated=true":         {"deleteRating"},
		"?deprecated=false&q=cast": {"getMovieCredits"},
		"?q=spaceship":             nil,
	}
	for query, want := range tests {
		code, body := list(query)
		require.Equal(t, http.StatusOK, code, query)
		assert.Equal(t, want, ids(body), query)
	}

	code, first := list("?limit=3")
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, first.NextCursor)
	code, second := list("?limit=3&cursor=" + first.NextCursor)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"getMovie", "getMovieCredits", "deleteRating", "searchMovies"}, append(ids(first), ids(second)...))
	assert.Empty(t, second.NextCursor)

	for _, bad := range []string{"?cursor=%25%25", "?limit=0", "?side_effect=maybe", "?deprecated=perhaps"} {
		code, _ := list(bad)
		assert.Equal(t, http.StatusBadRequest, code, bad)
	}
	for _, path := range []string{"/v1/connections/theirs/endpoints", "/v1/connections/nobody/endpoints"} {
		rec := h.do(http.MethodGet, path, "", asAdmin...)
		assert.Equal(t, http.StatusNotFound, rec.Code, "another tenant's connection is not found: %s", path)
		assert.Equal(t, apierror.CodeNotFound, errorBody(t, rec).Code)
	}
}
