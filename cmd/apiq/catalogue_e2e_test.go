package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/testservers"
)

// TestCatalogueThroughTheAPI registers documents through the router and
// reads their catalogue and its search from the composition root's
// projector and queries: read-your-writes, filters, tenants, disabling
// and deletion.
func TestCatalogueThroughTheAPI(t *testing.T) {
	s := startService(t, nil)
	user := s.user("user@example.com", "USER")
	auditor := s.user("auditor@example.com", "AUDITOR")
	status, tmdb := s.register(user, map[string]any{"name": "TMDB", "document": string(testservers.ReadSpec(t, "tmdb-3.0.json"))})
	require.Equal(t, http.StatusCreated, status, tmdb)
	status, pets := s.register(user, map[string]any{"name": "Petstore", "document": string(testservers.ReadSpec(t, "petstore-3.0.yaml"))})
	require.Equal(t, http.StatusCreated, status, pets)
	id, position := tmdb["id"].(string), pets["position"].(string)

	search := func(token, query, position string) (int, []map[string]any) {
		t.Helper()
		path := "/v1/endpoints/search?q=" + url.QueryEscape(query)
		if position != "" {
			path += "&min_position=" + position
		}
		status, body := s.json("GET", path, token, "")
		if status != http.StatusOK {
			return status, nil
		}
		var items []map[string]any
		for _, item := range body["items"].([]any) {
			items = append(items, item.(map[string]any))
		}
		return status, items
	}
	operations := func(items []map[string]any) []string {
		var out []string
		for _, item := range items {
			out = append(out, item["operation_id"].(string))
		}
		return out
	}

	status, items := search(auditor, "who starred in Inception?", position)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, operations(items), "GET_movie-movie_id-credits")
	assert.Contains(t, operations(items), "GET_search-movie", "the step that finds the movie id comes with the credits")
	for _, item := range items {
		assert.Equal(t, id, item["connection_id"])
		assert.Equal(t, "TMDB", item["connection_name"])
	}
	status, items = search(user, "add a new pet called Rex", "")
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, items)
	assert.Equal(t, "addPet", items[0]["operation_id"])
	assert.Equal(t, "write", items[0]["side_effect"])

	status, page := s.json("GET", "/v1/connections/"+id+"/endpoints?limit=5&side_effect=read&q=season", user, "")
	require.Equal(t, http.StatusOK, status, page)
	assert.Len(t, page["items"], 5)
	assert.NotEmpty(t, page["next_cursor"])
	first := page["items"].([]any)[0].(map[string]any)
	assert.Equal(t, id, first["connection_id"])
	assert.NotEmpty(t, first["responses"])

	// Another tenant sees neither the catalogue nor hits.
	boss := s.otherTenantAdmin()
	status, body := s.json("GET", "/v1/connections/"+id+"/endpoints", boss, "")
	assert.Equal(t, http.StatusNotFound, status, body)
	status, items = search(boss, "who starred in Inception?", "")
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, items)

	// Disabled and deleted connections drop out of search.
	status, disabled := s.json("POST", "/v1/connections/"+id+"/disable", user, `{"reason":"quota"}`)
	require.Equal(t, http.StatusOK, status, disabled)
	status, items = search(user, "who starred in Inception?", disabled["position"].(string))
	require.Equal(t, http.StatusOK, status)
	assert.NotContains(t, operations(items), "GET_movie-movie_id-credits")
	status, deleted := s.json("DELETE", "/v1/connections/"+pets["id"].(string), user, "")
	require.Equal(t, http.StatusOK, status, deleted)
	status, items = search(user, "add a new pet called Rex", deleted["position"].(string))
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, items)
	status, body = s.json("GET", "/v1/connections/"+pets["id"].(string)+"/endpoints", user, "")
	assert.Equal(t, http.StatusNotFound, status, body)
}
