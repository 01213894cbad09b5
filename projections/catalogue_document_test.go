package projections

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/openapi"
)

func TestIdentifierWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"GetChargesChargeRefunds", []string{"get", "charges", "charge", "refunds"}},
		{"GET_movie-movie_id-credits", []string{"get", "movie", "movie", "id", "credits"}},
		{"get-an-artists-top-tracks", []string{"get", "an", "artists", "top", "tracks"}},
		{"Get3dSecureThreeDSecure", []string{"get3d", "secure", "three", "d", "secure"}},
		{"HTTPServerError", []string{"http", "server", "error"}},
		{"payment_intent", []string{"payment", "intent"}},
		{"Café au lait", []string{"café", "au", "lait"}},
		{"", nil},
		{"--__--", nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, identifierWords(tt.in), tt.in)
	}
}

func TestPlainTextAndSentences(t *testing.T) {
	t.Parallel()
	text := plainText(`<p>Creates a <a href="/docs/x">Charge</a> &amp; more. See [the guide](https://stripe.com/docs) at https://example.com/x.</p>`)
	assert.Equal(t, "Creates a Charge & more. See the guide at", text)
	first, rest := splitFirstSentence(text)
	assert.Equal(t, "Creates a Charge & more", first)
	assert.Equal(t, "See the guide at", rest)
	first, rest = splitFirstSentence("No full stop")
	assert.Equal(t, "No full stop", first)
	assert.Empty(t, rest)
	assert.Equal(t, "one two", truncateWords("one two three", 9))
	assert.Equal(t, "short", truncateWords("short", 9))
}

func TestBuildSearchDocument(t *testing.T) {
	t.Parallel()
	response := json.RawMessage(`{"type":"object","title":"MovieCredits","description":"The cast and crew. Long text.",
		"properties":{"cast":{"type":"array","items":{"type":"object","properties":{"character":{"type":"string"},
		"profile":{"type":"object","properties":{"deep_field":{"type":"string"}}}}}},"id":{"type":"integer"}}}`)
	op := openapi.Operation{
		Method: "GET", Path: "/movie/{movie_id}/credits", OperationID: "GET_movie-movie_id-credits",
		Summary: "Get Credits", Description: "<p>Get the cast and crew for a movie.</p> You can query by language.",
		Tags: []string{"Movies"},
		Parameters: []openapi.Parameter{
			{Name: "movie_id", In: "path", Required: true},
			{Name: "language", In: "query", Description: "Pass an ISO 639-1 value. More text."},
			{Name: "X-Trace", In: "header"},
		},
		Responses: []openapi.Response{{Status: "200", Schema: response}, {Status: "404", Description: "missing"}},
	}
	doc := buildSearchDocument(op)
	words := func(s string) []string { return strings.Fields(s) }
	assert.Subset(t, words(doc.A), []string{"get", "movie", "credits"}, "A: the operation id, summary and path")
	assert.NotContains(t, words(doc.A), "movie_id")
	assert.Subset(t, words(doc.B), []string{"list", "movies", "cast", "crew", "movie", "id", "credits"},
		"B: the REST verb of a GET of a collection, tags, the first sentence, path parameters, the response's title")
	assert.Subset(t, words(doc.C), []string{"query", "language", "pass", "iso"}, "C: the rest of the description, parameters")
	assert.NotContains(t, words(doc.C), "trace", "header parameters are not what an operation is about")
	assert.Subset(t, words(doc.D), []string{"cast", "id", "character", "profile"}, "D: response fields two levels deep")
	assert.NotContains(t, words(doc.D), "deep", "fields below two levels are left out")

	assert.Equal(t, []string{"list"}, methodVerbs(openapi.Operation{Method: "GET", Path: "/movies"}))
	assert.Equal(t, []string{"create"}, methodVerbs(openapi.Operation{Method: "POST", Path: "/movies"}))
	assert.Equal(t, []string{"update"}, methodVerbs(openapi.Operation{Method: "POST", Path: "/movies/{id}"}))
	assert.Equal(t, []string{"update"}, methodVerbs(openapi.Operation{Method: "PATCH", Path: "/movies/{id}"}))
	assert.Equal(t, []string{"delete"}, methodVerbs(openapi.Operation{Method: "DELETE", Path: "/movies/{id}"}))
	assert.Nil(t, methodVerbs(openapi.Operation{Method: "OPTIONS", Path: "/movies"}))
}

func TestSearchOperationsAndKeys(t *testing.T) {
	t.Parallel()
	search := openapi.Operation{Method: "GET", Path: "/search/movie"}
	assert.True(t, isSearchOperation(search))
	assert.True(t, isSearchOperation(openapi.Operation{Method: "GET", Path: "/v1/customers", Parameters: []openapi.Parameter{{Name: "q", In: "query"}}}))
	assert.False(t, isSearchOperation(openapi.Operation{Method: "POST", Path: "/search"}))
	assert.False(t, isSearchOperation(openapi.Operation{Method: "GET", Path: "/v1/customers", Parameters: []openapi.Parameter{{Name: "q", In: "header"}}}))

	op := openapi.Operation{
		Produces: []openapi.ProducedValue{{Key: "movie_id", Field: "/results/*/id"}, {Key: "genre_id", Field: "/results/*/genre_ids"}, {Key: "movie_id", Field: "/id"}},
		Needs:    []openapi.NeededValue{{Key: "tv_id", Required: true}, {Key: "page_id"}, {Key: "tv_id", Required: true}},
	}
	assert.Equal(t, []string{"movie_id", "genre_id"}, producedKeys(op))
	assert.Equal(t, []string{"movie_id"}, ownedKeys(op))
	assert.Equal(t, []string{"tv_id"}, requiredNeedKeys(op))
}
