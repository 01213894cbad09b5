package openapi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moviesDoc is a small TMDB-like API: find a movie, then its credits.
const moviesDoc = header30 + `paths:
  /search/movie:
    get:
      operationId: searchMovie
      parameters: [{name: query, in: query, required: true, schema: {type: string}}]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  page: {type: integer}
                  results: {type: array, items: {$ref: '#/components/schemas/movie-list-object'}}
  /movie/{movie_id}/credits:
    get:
      operationId: movieCredits
      parameters: [{name: movie_id, in: path, required: true, schema: {type: integer}}]
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  cast: {type: array, items: {$ref: '#/components/schemas/Person'}}
                  crew:
                    type: array
                    items:
                      type: object
                      properties:
                        credit_id: {type: string}
  /people/{id}:
    get:
      operationId: getPerson
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Person'}}}
  /credits/{credit}:
    get:
      operationId: getCredit
      parameters: [{name: credit, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
  /lists:
    post:
      operationId: createList
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [movie_ids]
              properties:
                name: {type: string}
                movie_ids: {type: array, items: {type: integer}}
      responses: {'201': {description: created}}
  /charges:
    get:
      operationId: listCharges
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  data:
                    type: array
                    items:
                      type: object
                      properties:
                        id: {type: string}
                        customer:
                          anyOf: [{type: string}, {$ref: '#/components/schemas/Customer'}]
components:
  schemas:
    movie-list-object:
      type: object
      properties:
        id: {type: integer}
        genre_ids: {type: array, items: {type: integer}}
    Person:
      type: object
      properties:
        id: {type: integer}
        name: {type: string}
    Customer:
      type: object
      properties:
        id: {type: string}
`

func TestProducedAndNeededValues(t *testing.T) {
	t.Parallel()
	res := importDoc(t, moviesDoc, Options{})
	tests := []struct {
		key      string
		produces []ProducedValue
		needs    []NeededValue
	}{
		{
			key:      "GET /search/movie",
			produces: []ProducedValue{{Key: "movie_id", Field: "/results/*/id"}, {Key: "genre_id", Field: "/results/*/genre_ids"}},
		},
		{
			key:      "GET /movie/{movie_id}/credits",
			produces: []ProducedValue{{Key: "person_id", Field: "/cast/*/id"}, {Key: "credit_id", Field: "/crew/*/credit_id"}},
			needs:    []NeededValue{{Key: "movie_id", Name: "movie_id", In: "path", Required: true}},
		},
		{
			key:      "GET /people/{id}",
			produces: []ProducedValue{{Key: "person_id", Field: "/id"}},
			needs:    []NeededValue{{Key: "person_id", Name: "id", In: "path", Required: true}},
		},
		{
			key:   "GET /credits/{credit}",
			needs: []NeededValue{{Key: "credit_id", Name: "credit", In: "path", Required: true}},
		},
		{
			key:   "POST /lists",
			needs: []NeededValue{{Key: "movie_id", Name: "movie_ids", In: "body", Required: true}},
		},
		{
			key:      "GET /charges",
			produces: []ProducedValue{{Key: "customer_id", Field: "/data/*/customer"}, {Key: "charge_id", Field: "/data/*/id"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			op := operationKeyed(t, res, tt.key)
			assert.ElementsMatch(t, tt.produces, op.Produces)
			assert.ElementsMatch(t, tt.needs, op.Needs)
		})
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	res := importDoc(t, moviesDoc, Options{})
	links := Links(res.Operations)
	assert.Contains(t, links, Link{Key: "movie_id", Consumer: "movieCredits", Parameter: "movie_id", In: "path", Required: true, Producer: "searchMovie", Field: "/results/*/id"})
	assert.Contains(t, links, Link{Key: "movie_id", Consumer: "createList", Parameter: "movie_ids", In: "body", Required: true, Producer: "searchMovie", Field: "/results/*/id"})
	assert.Contains(t, links, Link{Key: "person_id", Consumer: "getPerson", Parameter: "id", In: "path", Required: true, Producer: "movieCredits", Field: "/cast/*/id"})
	assert.Contains(t, links, Link{Key: "credit_id", Consumer: "getCredit", Parameter: "credit", In: "path", Required: true, Producer: "movieCredits", Field: "/crew/*/credit_id"})
	for _, l := range links {
		assert.NotEqual(t, l.Consumer, l.Producer, "an operation is not its own producer")
	}
}

func TestLinksPreferReadsAndCapProducers(t *testing.T) {
	t.Parallel()
	needs := []NeededValue{{Key: "thing_id", Name: "thing_id", In: "path", Required: true}}
	produce := []ProducedValue{{Key: "thing_id", Field: "/id"}}
	ops := []Operation{{OperationID: "useThing", Method: "GET", Path: "/things/{thing_id}/use", SideEffect: SideEffectRead, Needs: needs}}
	for i := 0; i < 12; i++ {
		ops = append(ops, Operation{OperationID: "write" + string(rune('a'+i)), Method: "POST", Path: "/things", SideEffect: SideEffectWrite, Produces: produce})
	}
	ops = append(ops, Operation{OperationID: "listThings", Method: "GET", Path: "/things", SideEffect: SideEffectRead, Produces: produce})
	links := Links(ops)
	require.Len(t, links, maxLinksPerInput)
	assert.Equal(t, "listThings", links[0].Producer, "the read comes first")
}

func TestStripeLinks(t *testing.T) {
	t.Parallel()
	res, err := Import(context.Background(), readSpec(t, "stripe-3.0.json"), Options{})
	require.NoError(t, err)
	links := Links(res.Operations)
	consumer := operationKeyed(t, res, "GET /v1/customers/{customer}").OperationID
	var producers []string
	for _, l := range links {
		if l.Consumer == consumer && l.Key == "customer_id" {
			producers = append(producers, l.Producer)
		}
	}
	require.NotEmpty(t, producers)
	assert.Equal(t, operationKeyed(t, res, "GET /v1/customers").OperationID, producers[0], "listing customers is the first way to a customer id")
}
