package projections

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

func operationIDs(endpoints []EndpointView) []string {
	ids := make([]string, len(endpoints))
	for i, e := range endpoints {
		ids[i] = e.OperationID
	}
	return ids
}

func hitIDs(hits []EndpointHit) []string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ConnectionID + ":" + h.OperationID
	}
	return ids
}

// allEndpoints lists a connection's whole catalogue.
func allEndpoints(t *testing.T, f *catalogueFixture, tenantID, connectionID string) []EndpointView {
	t.Helper()
	page, err := ListEndpoints(context.Background(), f.pool, tenantID, connectionID, ListEndpointsOptions{Limit: MaxEndpointsPageSize})
	require.NoError(t, err)
	require.Empty(t, page.Next)
	return page.Endpoints
}

func TestCatalogueProjector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCatalogueFixture(t)
	p := NewCatalogueProjector()
	assert.Equal(t, "rm_catalogue", SchemaName(p), "the queries name this schema")
	pets := specOperations(t, "petstore-3.0.yaml")
	require.Len(t, pets, 19)

	registered := f.event(t, "t1", "pets", connection.Registered{ConnectionID: "pets", Name: "Petstore", BaseURL: "https://pets.example.com"})
	first := f.discovered(t, "t1", "pets", pets)
	f.apply(t, registered, first, first) // a replayed event changes nothing
	got := allEndpoints(t, f, "t1", "pets")
	assert.Len(t, got, 19)
	addPet := got[slices.IndexFunc(got, func(e EndpointView) bool { return e.OperationID == "addPet" })]
	assert.Equal(t, "POST", addPet.Method)
	assert.Equal(t, "/pet", addPet.Path)
	assert.Equal(t, "write", addPet.SideEffect)
	assert.Equal(t, []string{"pet"}, addPet.Tags)
	assert.Contains(t, string(addPet.RequestBody), `"application/json"`)
	assert.Contains(t, string(addPet.Produces), `"pet_id"`)

	// A re-import replaces the catalogue: one operation removed, one changed, one added.
	changed := slices.Clone(pets)
	changed = slices.DeleteFunc(changed, func(op openapi.Operation) bool { return op.OperationID == "deletePet" })
	for i := range changed {
		if changed[i].OperationID == "addPet" {
			changed[i].Summary = "Put a new pet up for adoption."
		}
	}
	changed = append(changed, openapi.Operation{
		Method: "GET", Path: "/pet/{petId}/vaccinations", OperationID: "listVaccinations", Summary: "List a pet's vaccinations.",
		Parameters: []openapi.Parameter{{Name: "petId", In: "path", Required: true}}, SideEffect: openapi.SideEffectRead,
		Needs: []openapi.NeededValue{{Key: "pet_id", Name: "petId", In: "path", Required: true}},
	})
	second := f.discovered(t, "t1", "pets", changed)
	f.apply(t, second)
	ids := operationIDs(allEndpoints(t, f, "t1", "pets"))
	assert.Len(t, ids, 19)
	assert.NotContains(t, ids, "deletePet")
	assert.Contains(t, ids, "listVaccinations")
	e, err := GetEndpoint(ctx, f.pool, "t1", "pets", "addPet")
	require.NoError(t, err)
	assert.Equal(t, "Put a new pet up for adoption.", e.Summary)

	f.apply(t, first) // an older catalogue arriving late is ignored
	assert.NotContains(t, operationIDs(allEndpoints(t, f, "t1", "pets")), "deletePet")
	hits, err := SearchEndpoints(ctx, f.pool, "t1", "vaccinations of my pet", SearchOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	assert.Equal(t, "pets:listVaccinations", hitIDs(hits)[0])
	assert.Equal(t, "Petstore", hits[0].ConnectionName)

	// Tenant scoping: another tenant sees neither the catalogue nor hits,
	// and its events cannot touch this connection.
	_, err = ListEndpoints(ctx, f.pool, "t2", "pets", ListEndpointsOptions{})
	assert.ErrorIs(t, err, ErrConnectionNotFound)
	assert.ErrorIs(t, err, domain.ErrNotFound)
	_, err = GetEndpoint(ctx, f.pool, "t2", "pets", "addPet")
	assert.ErrorIs(t, err, ErrConnectionNotFound)
	hits, err = SearchEndpoints(ctx, f.pool, "t2", "vaccinations of my pet", SearchOptions{})
	require.NoError(t, err)
	assert.Empty(t, hits)
	f.apply(t, f.event(t, "t2", "pets", connection.Deleted{}), f.discovered(t, "t2", "pets", pets[:1]))
	assert.Len(t, allEndpoints(t, f, "t1", "pets"), 19, "events stamped with another tenant are ignored")

	// Disabled connections drop out of search, and come back when enabled.
	f.apply(t, f.event(t, "t1", "pets", connection.Disabled{Reason: "maintenance"}))
	hits, err = SearchEndpoints(ctx, f.pool, "t1", "vaccinations of my pet", SearchOptions{})
	require.NoError(t, err)
	assert.Empty(t, hits)
	assert.Len(t, allEndpoints(t, f, "t1", "pets"), 19, "the catalogue of a disabled connection is still listed")
	f.apply(t, f.event(t, "t1", "pets", connection.Enabled{}))
	hits, err = SearchEndpoints(ctx, f.pool, "t1", "vaccinations of my pet", SearchOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, hits)

	// A rename shows in the hits.
	name := "Pet shop"
	f.apply(t, f.event(t, "t1", "pets", connection.Updated{Name: &name}))
	hits, err = SearchEndpoints(ctx, f.pool, "t1", "vaccinations of my pet", SearchOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Equal(t, "Pet shop", hits[0].ConnectionName)

	// Deletion removes the catalogue; a catalogue arriving after it is ignored.
	f.apply(t, f.event(t, "t1", "pets", connection.Deleted{}), f.discovered(t, "t1", "pets", pets))
	_, err = ListEndpoints(ctx, f.pool, "t1", "pets", ListEndpointsOptions{})
	assert.ErrorIs(t, err, ErrConnectionNotFound)
	hits, err = SearchEndpoints(ctx, f.pool, "t1", "add a new pet", SearchOptions{})
	require.NoError(t, err)
	assert.Empty(t, hits)
	var rows int
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM rm_catalogue.endpoints) +
		(SELECT count(*) FROM rm_catalogue.search_documents) + (SELECT count(*) FROM rm_catalogue.terms)`).Scan(&rows))
	assert.Zero(t, rows)

	// Events of other aggregates and unknown connection events are ignored.
	other := f.event(t, "t1", "pets", connection.Tested{Method: "GET", Path: "/pet/1", OK: true})
	other.StreamID = "user-1"
	f.apply(t, other, f.event(t, "t1", "pets", connection.Tested{Method: "GET", Path: "/pet/1", OK: true}))
}

func TestCatalogueProjectorRejectsAMissingCatalogue(t *testing.T) {
	t.Parallel()
	f := newCatalogueFixture(t)
	ev := f.event(t, "t1", "c1", connection.EndpointsDiscovered{CatalogueHash: "0000000000000000000000000000000000000000000000000000000000000000"})
	tx, err := f.pool.Begin(context.Background())
	require.NoError(t, err)
	defer tx.Rollback(context.Background()) //nolint:errcheck // test cleanup
	_, err = tx.Exec(context.Background(), "CREATE SCHEMA rm_catalogue; SET LOCAL search_path TO rm_catalogue; "+f.p.Schema())
	require.NoError(t, err)
	err = f.p.Apply(context.Background(), directDB{tx: tx}, ev)
	assert.ErrorContains(t, err, "blob not found", "a catalogue that is not stored fails the event, to be retried")
}

func TestListEndpointsFiltersAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCatalogueFixture(t)
	pets := slices.Clone(specOperations(t, "petstore-3.0.yaml"))
	for i := range pets {
		pets[i].Deprecated = pets[i].OperationID == "findPetsByTags"
	}
	f.register(t, "t1", "pets", "Petstore", pets)
	f.register(t, "t2", "other", "Other", pets)

	deprecated, notDeprecated := true, false
	tests := []struct {
		name string
		opts ListEndpointsOptions
		want []string
	}{
		{"method", ListEndpointsOptions{Method: "delete"}, []string{"deletePet", "deleteOrder", "deleteUser"}},
		{"tag", ListEndpointsOptions{Tag: "STORE"}, []string{"getInventory", "placeOrder", "getOrderById", "deleteOrder"}},
		{"side effect", ListEndpointsOptions{SideEffect: "destructive", Tag: "user"}, []string{"deleteUser"}},
		{"deprecated", ListEndpointsOptions{Deprecated: &deprecated}, []string{"findPetsByTags"}},
		{"query", ListEndpointsOptions{Query: "purchase order"}, []string{"getOrderById", "deleteOrder"}},
		{"query or", ListEndpointsOptions{Query: "inventory or logout"}, []string{"getInventory", "logoutUser"}},
		{"query with an identifier", ListEndpointsOptions{Query: "uploadFile"}, []string{"uploadFile"}},
		{"query excluding a word", ListEndpointsOptions{Query: "order -delete", Method: "GET"}, []string{"getOrderById"}},
		{"no match", ListEndpointsOptions{Query: "spaceship"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := ListEndpoints(ctx, f.pool, "t1", "pets", tt.opts)
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.want, operationIDs(page.Endpoints))
			assert.Empty(t, page.Next)
		})
	}
	page, err := ListEndpoints(ctx, f.pool, "t1", "pets", ListEndpointsOptions{Deprecated: &notDeprecated})
	require.NoError(t, err)
	assert.Len(t, page.Endpoints, 18)

	var got []string
	var pages int
	after := ""
	for {
		page, err := ListEndpoints(ctx, f.pool, "t1", "pets", ListEndpointsOptions{Limit: 4, After: after})
		require.NoError(t, err)
		pages++
		for _, e := range page.Endpoints {
			assert.Equal(t, "pets", e.ConnectionID)
			got = append(got, e.Method+" "+e.Path)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.Equal(t, 5, pages)
	sorted := slices.Clone(pets)
	slices.SortFunc(sorted, func(a, b openapi.Operation) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	var want []string
	for _, op := range sorted {
		want = append(want, op.Method+" "+op.Path)
	}
	assert.Equal(t, want, got, "every endpoint once, in path then method order")

	_, err = ListEndpoints(ctx, f.pool, "t1", "pets", ListEndpointsOptions{After: "not a cursor"})
	assert.ErrorIs(t, err, domain.ErrInvalid)
	_, err = GetEndpoint(ctx, f.pool, "t1", "pets", "noSuchOperation")
	assert.ErrorIs(t, err, ErrEndpointNotFound)
}

func TestSearchEndpointsLinksAndPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCatalogueFixture(t)
	f.register(t, "t1", "tmdb", "TMDB", specOperations(t, "tmdb-3.0.json"))
	f.register(t, "t1", "pets", "Petstore", specOperations(t, "petstore-3.0.yaml"))

	hits, err := SearchEndpoints(ctx, f.pool, "t1", "who starred in Inception?", SearchOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, hits)
	assert.LessOrEqual(t, len(hits), DefaultSearchLimit)
	ids := hitIDs(hits)
	credits := slices.Index(ids, "tmdb:GET_movie-movie_id-credits")
	search := slices.Index(ids, "tmdb:GET_search-movie")
	require.GreaterOrEqual(t, credits, 0, "%v", ids)
	require.GreaterOrEqual(t, search, 0, "the lookup step comes with the step that needs it: %v", ids)
	assert.Equal(t, []string{"movie_id"}, hits[credits].Needs)
	require.NotNil(t, hits[search].ProvidesFor)
	assert.Equal(t, "read", hits[search].SideEffect)
	for i := 1; i < len(hits); i++ {
		assert.GreaterOrEqual(t, hits[i-1].Score, hits[i].Score, "hits are ordered by score")
	}

	all, err := SearchEndpoints(ctx, f.pool, "t1", "movie images", SearchOptions{Limit: 30})
	require.NoError(t, err)
	first, err := SearchEndpoints(ctx, f.pool, "t1", "movie images", SearchOptions{Limit: 10})
	require.NoError(t, err)
	second, err := SearchEndpoints(ctx, f.pool, "t1", "movie images", SearchOptions{Limit: 10, Offset: 10})
	require.NoError(t, err)
	assert.Equal(t, hitIDs(all[:20]), append(hitIDs(first), hitIDs(second)...), "pages continue one another")

	for _, q := range []string{"", "   ", "the of and", "?!"} {
		hits, err := SearchEndpoints(ctx, f.pool, "t1", q, SearchOptions{})
		require.NoError(t, err)
		assert.Empty(t, hits, "%q has no words to search for", q)
	}
	// Within a caller's transaction the search runs in a savepoint, and
	// its settings end with it.
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	inTx, err := SearchEndpoints(ctx, tx, "t1", "movie images", SearchOptions{Limit: 30})
	require.NoError(t, err)
	assert.Equal(t, hitIDs(all), hitIDs(inTx))
	var seqscan string
	require.NoError(t, tx.QueryRow(ctx, "SHOW enable_seqscan").Scan(&seqscan))
	assert.Equal(t, "on", seqscan)
	require.NoError(t, tx.Rollback(ctx))

	hits, err = SearchEndpoints(ctx, f.pool, "t1", "add a pet", SearchOptions{Offset: MaxSearchResults})
	require.NoError(t, err)
	assert.Empty(t, hits)
	hits, err = SearchEndpoints(ctx, f.pool, "t1", "add a new pet called Rex", SearchOptions{Limit: 3})
	require.NoError(t, err)
	require.Len(t, hits, 3)
	assert.Equal(t, "pets:addPet", hitIDs(hits)[0])
}
