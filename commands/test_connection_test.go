package commands_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

func TestTestConnection(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	const key = "the-right-api-key"
	httpbin := testservers.StartHTTPBin(t, testservers.HTTPBinAPIKey(key))
	register := func(name string, auth *credentials.Input) string {
		res, err := e.register.Handle(within(t, time.Minute), userOf(acme.TenantID, "reg-"+name), commands.RegisterConnection{
			Name: name, Document: commands.DocumentSource{Text: httpbin.OpenAPIDocument()}, Auth: auth,
		})
		require.NoError(t, err)
		return res.ConnectionID
	}
	header := register("header", &credentials.Input{Type: "api_key", Scheme: "apiKeyHeader", Key: key})
	query := register("query", &credentials.Input{Type: "api_key", Scheme: "apiKeyQuery", Key: key})
	wrong := register("wrong", &credentials.Input{Type: "api_key", Scheme: "apiKeyHeader", Key: "a-wrong-key"})
	bearer := register("bearer", &credentials.Input{Type: "bearer", Token: "some-bearer-token"})
	anonymous := register("anonymous", nil)
	writesOnly, err := e.register.Handle(within(t, time.Minute), userOf(acme.TenantID, "reg-writes"), commands.RegisterConnection{
		Name: "writes", BaseURL: httpbin.URL, Document: commands.DocumentSource{Text: []byte(
			`{"openapi":"3.0.3","info":{"title":"w","version":"1"},"paths":{"/post":{"post":{"responses":{"200":{"description":"ok"}}}}}}`)},
	})
	require.NoError(t, err)

	tests := []struct {
		name       string
		cmd        commands.TestConnection
		wantOp     string
		wantPath   string
		wantOK     bool
		wantStatus int
	}{
		{"chosen: the operation that needs the header key", commands.TestConnection{ConnectionID: header}, "getHeaders", "/headers", true, 200},
		{"chosen: no open operation takes the query key, so the simplest read", commands.TestConnection{ConnectionID: query}, "getRequest", "/get", true, 200},
		{"chosen: the bearer check", commands.TestConnection{ConnectionID: bearer}, "checkBearer", "/bearer", true, 200},
		{"chosen without credentials: an open operation", commands.TestConnection{ConnectionID: anonymous}, "getRequest", "/get", true, 200},
		{"a refused key", commands.TestConnection{ConnectionID: wrong}, "getHeaders", "/headers", false, 401},
		{"named with parameters", commands.TestConnection{ConnectionID: query, OperationID: "getAnything",
			Params: map[string]string{"anything": "a b"}}, "getAnything", "/anything/{anything}", true, 200},
		{"named basic check without credentials", commands.TestConnection{ConnectionID: anonymous, OperationID: "checkBasicAuth",
			Params: map[string]string{"user": "u", "passwd": "p"}}, "checkBasicAuth", "/basic-auth/{user}/{passwd}", false, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.test.Handle(within(t, time.Minute), userOf(acme.TenantID, "test-"+tt.name), tt.cmd)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOp, res.OperationID)
			assert.Equal(t, tt.wantPath, res.Tested.Path)
			assert.Equal(t, tt.wantOK, res.Tested.OK, res.Tested.Error)
			assert.Equal(t, tt.wantStatus, res.Tested.Status)
			assert.Equal(t, tt.wantOK, res.Tested.Error == "")
			evs := e.stream(t, connection.Stream(tt.cmd.ConnectionID))
			last := evs[len(evs)-1]
			assert.Equal(t, connection.TypeTested, last.Type)
			assert.Equal(t, res.Tested, decodeAs[connection.Tested](t, last))
			assert.NotContains(t, string(last.Data), key)
		})
	}
	assert.Positive(t, httpbin.RequestCount("GET", "/anything/a b"), "path parameters are escaped and sent")

	refusals := []struct {
		name    string
		cmd     commands.TestConnection
		wantErr error
	}{
		{"an unknown operation", commands.TestConnection{ConnectionID: header, OperationID: "nope"}, commands.ErrOperationNotFound},
		{"a write", commands.TestConnection{ConnectionID: header, OperationID: "postAnything", Params: map[string]string{"anything": "x"}}, commands.ErrUnsafeTestOperation},
		{"a missing parameter", commands.TestConnection{ConnectionID: header, OperationID: "getAnything"}, domain.ErrInvalid},
		{"an unknown parameter", commands.TestConnection{ConnectionID: header, OperationID: "getRequest", Params: map[string]string{"z": "1"}}, domain.ErrInvalid},
		{"an unknown connection", commands.TestConnection{ConnectionID: "nope"}, connection.ErrNotFound},
		{"nothing safe to call", commands.TestConnection{ConnectionID: writesOnly.ConnectionID}, commands.ErrNoTestOperation},
	}
	for _, r := range refusals {
		_, err := e.test.Handle(within(t, time.Minute), userOf(acme.TenantID, "refused-"+r.name), r.cmd)
		assert.ErrorIs(t, err, r.wantErr, r.name)
	}
}

func TestTestConnectionStaysInsideTheAllowlist(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, nil)
	acme := e.tenantWithAdmin(t, "acme")
	httpbin := testservers.StartHTTPBin(t)
	ctx := within(t, time.Minute)
	reg, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg"), commands.RegisterConnection{
		Name: "httpbin", Document: commands.DocumentSource{Text: httpbin.OpenAPIDocument()},
		Auth: &credentials.Input{Type: "bearer", Token: "a-token-that-must-not-leave"},
	})
	require.NoError(t, err)
	res, err := e.test.Handle(ctx, userOf(acme.TenantID, "test"), commands.TestConnection{ConnectionID: reg.ConnectionID})
	require.NoError(t, err, "a refused call is a test result, not an error")
	assert.False(t, res.Tested.OK)
	assert.Contains(t, res.Tested.Error, "not allowed")
	assert.Zero(t, httpbin.RequestCount("GET", "/bearer"), "nothing reached the loopback server")
}

// TestTestConnectionAgainstPrismTMDB calls TMDB's document as Prism serves
// it: the API key goes where the document's scheme says (Prism refuses a
// call without it), and Prism's request validation answers a bad value.
func TestTestConnectionAgainstPrismTMDB(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	spec := testservers.SpecPath(t, "tmdb-3.0.json")
	prism := testservers.StartPrism(t, spec)
	register := func(name string, auth *credentials.Input) string {
		res, err := e.register.Handle(within(t, time.Minute), userOf(acme.TenantID, "reg-"+name), commands.RegisterConnection{
			Name: name, BaseURL: prism.URL, Document: commands.DocumentSource{Text: testservers.ReadSpec(t, "tmdb-3.0.json")}, Auth: auth,
		})
		require.NoError(t, err)
		return res.ConnectionID
	}
	keyed := register("keyed", &credentials.Input{Type: "api_key", Scheme: "api_key", Key: "a-tmdb-key"})
	anonymous := register("anonymous", nil)

	tests := []struct {
		name       string
		cmd        commands.TestConnection
		wantOK     bool
		wantStatus int
	}{
		{"the key in the query", commands.TestConnection{ConnectionID: keyed, OperationID: "GET_movie-movie_id",
			Params: map[string]string{"movie_id": "550"}}, true, 200},
		{"no key", commands.TestConnection{ConnectionID: anonymous, OperationID: "GET_movie-movie_id",
			Params: map[string]string{"movie_id": "550"}}, false, 401},
		{"a search with its query", commands.TestConnection{ConnectionID: keyed, OperationID: "GET_search-movie",
			Params: map[string]string{"query": "alien"}}, true, 200},
		{"a page that is not a number", commands.TestConnection{ConnectionID: keyed, OperationID: "GET_search-movie",
			Params: map[string]string{"query": "alien", "page": "first"}}, false, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.test.Handle(within(t, time.Minute), userOf(acme.TenantID, "test-"+tt.name), tt.cmd)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, res.Tested.Status, res.Tested.Error)
			assert.Equal(t, tt.wantOK, res.Tested.OK, res.Tested.Error)
			evs := e.stream(t, connection.Stream(tt.cmd.ConnectionID))
			assert.NotContains(t, string(evs[len(evs)-1].Data), "a-tmdb-key")
		})
	}
}
