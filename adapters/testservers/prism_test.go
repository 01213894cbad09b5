package testservers

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrismPetstore(t *testing.T) {
	t.Parallel()
	prism := StartPrism(t, SpecPath(t, "petstore-3.0.yaml"))
	accept := func(pairs ...string) http.Header {
		return hdr(append([]string{"Accept", "application/json"}, pairs...)...)
	}

	tests := []struct {
		name      string
		method    string
		path      string
		header    http.Header
		body      string
		status    int
		violation string // expected in the sl-violations header
		check     func(t *testing.T, a answer)
	}{
		{name: "api key present", method: "GET", path: "/pet/1", header: accept("api_key", "k"), status: 200,
			check: func(t *testing.T, a answer) {
				assert.Equal(t, "doggie", a.json(t)["name"], "the document's example")
			}},
		{name: "oauth2 bearer present", method: "GET", path: "/pet/1", header: accept("Authorization", "Bearer t"), status: 200},
		{name: "credentials absent", method: "GET", path: "/pet/1", header: accept(), status: 401,
			violation: "Invalid security scheme used"},
		{name: "path parameter of the wrong type: the declared 400", method: "GET", path: "/pet/abc", header: accept("api_key", "k"), status: 400,
			violation: "must be integer"},
		{name: "invalid body: 422", method: "POST", path: "/pet", header: accept("Authorization", "Bearer t"), body: `{"name":5}`, status: 422,
			violation: "photoUrls"},
		{name: "valid body", method: "POST", path: "/pet", header: accept("Authorization", "Bearer t"),
			body: `{"name":"rex","photoUrls":["https://example.com/rex.png"]}`, status: 200},
		{name: "the servers base path is dropped", method: "GET", path: "/api/v3/pet/1", header: accept("api_key", "k"), status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := call(t, tt.method, prism.URL+tt.path, tt.header, tt.body)
			require.Equal(t, tt.status, a.status, "body: %s; violations: %s", a.body, a.header.Get("sl-violations"))
			if tt.violation != "" {
				assert.Contains(t, a.header.Get("sl-violations"), tt.violation)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

// TestPrismTMDB also runs a Prism started with NewPrism and closes it
// itself, as a TestMain sharing one server would.
func TestPrismTMDB(t *testing.T) {
	t.Parallel()
	prism, err := NewPrism(context.Background(), SpecPath(t, "tmdb-3.0.json"))
	require.NoError(t, err)
	t.Cleanup(prism.Close)
	accept := hdr("Accept", "application/json")

	tests := []struct {
		name   string
		path   string
		status int
	}{
		{name: "api key in the query", path: "/movie/550?api_key=k", status: 200},
		{name: "api key absent", path: "/movie/550", status: 401},
		{name: "search with its required query", path: "/search/movie?query=alien&api_key=k", status: 200},
		{name: "search without its required query", path: "/search/movie?api_key=k", status: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, "GET", prism.URL+tt.path, accept, "")
			assert.Equal(t, tt.status, a.status, "body: %s; violations: %s", a.body, a.header.Get("sl-violations"))
		})
	}

	prism.Close()
	prism.Close()
	_, err = http.Get(prism.URL + "/movie/550")
	assert.Error(t, err, "nothing listens once closed")
	assert.Contains(t, prism.Output(), "Prism is listening on "+prism.URL)
}

func TestNewPrismRefusesAMissingDocument(t *testing.T) {
	t.Parallel()
	_, err := NewPrism(context.Background(), "no-such-spec.yaml")
	assert.ErrorContains(t, err, "no-such-spec.yaml")
}
