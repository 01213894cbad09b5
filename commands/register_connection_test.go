package commands_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

func TestRegisterConnection(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	httpbin := testservers.StartHTTPBin(t)
	tests := []struct {
		name         string
		cmd          commands.RegisterConnection
		wantBaseURL  string
		wantOps      int
		wantWarnings bool
		wantCreds    string
	}{
		{"petstore yaml on another base url", commands.RegisterConnection{Name: "Pets", BaseURL: "http://127.0.0.1:4010/",
			Document: commands.DocumentSource{Text: testservers.ReadSpec(t, "petstore-3.0.yaml")}},
			"http://127.0.0.1:4010", 19, false, ""},
		{"tmdb imports with a warning", commands.RegisterConnection{Name: "TMDB",
			Document: commands.DocumentSource{Text: testservers.ReadSpec(t, "tmdb-3.0.json")}},
			"https://api.themoviedb.org/3", 54, true, ""},
		{"httpbin with an API key", commands.RegisterConnection{Name: "httpbin",
			Document: commands.DocumentSource{Text: httpbin.OpenAPIDocument()},
			Auth:     &credentials.Input{Type: "api_key", Scheme: "apiKeyHeader", Key: "canary-key-123456"}},
			httpbin.URL, 16, false, "api_key"},
		{"anonymous credentials", commands.RegisterConnection{Name: "open", BaseURL: "http://127.0.0.1:1/",
			Document: commands.DocumentSource{Text: httpbin.OpenAPIDocument()}, Auth: &credentials.Input{Type: "none"}},
			"http://127.0.0.1:1", 16, false, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := within(t, time.Minute)
			res, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg-"+tt.name), tt.cmd)
			require.NoError(t, err)
			assert.False(t, res.Position.IsZero())
			evs := e.stream(t, connection.Stream(res.ConnectionID))
			want := []string{connection.TypeRegistered, connection.TypeDocumentImported, connection.TypeEndpointsDiscovered}
			if tt.wantCreds != "" {
				want = append(want, connection.TypeCredentialsSet)
			}
			require.Equal(t, want, types(evs))
			for _, ev := range evs {
				assert.Less(t, len(ev.Data), 64<<10, "events stay small: the document is stored by hash")
				assert.Equal(t, acme.TenantID, ev.Metadata.TenantID)
			}
			reg := decodeAs[connection.Registered](t, evs[0])
			assert.Equal(t, tt.wantBaseURL, reg.BaseURL)
			imported := decodeAs[connection.DocumentImported](t, evs[1])
			assert.Equal(t, tt.wantOps, imported.OperationCount)
			assert.Equal(t, tt.wantWarnings, len(imported.Warnings) > 0, "warnings: %v", imported.Warnings)
			doc, err := e.blobs.Get(ctx, imported.DocumentHash)
			require.NoError(t, err)
			assert.Equal(t, tt.cmd.Document.Text, doc, "the document is stored as given")
			discovered := decodeAs[connection.EndpointsDiscovered](t, evs[2])
			raw, err := e.blobs.Get(ctx, discovered.CatalogueHash)
			require.NoError(t, err)
			var ops []openapi.Operation
			require.NoError(t, json.Unmarshal(raw, &ops))
			assert.Len(t, ops, tt.wantOps)
			assert.Empty(t, discovered.Added, "a first import has no diff")
			if tt.wantCreds != "" {
				creds := decodeAs[connection.CredentialsSet](t, evs[3])
				assert.Equal(t, tt.wantCreds, creds.Type)
				assert.NotContains(t, string(evs[3].Data), "canary-key-123456")
			}
		})
	}
}

func TestRegisterRefusalsStoreNothing(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	small := e.cdeps
	small.Import.MaxBytes = 4 << 10
	registerSmall, err := commands.NewRegisterConnectionHandler(small)
	require.NoError(t, err)
	petstore := testservers.ReadSpec(t, "petstore-3.0.yaml")
	tests := []struct {
		name    string
		handler commands.RegisterConnectionHandler
		cmd     commands.RegisterConnection
		check   func(t *testing.T, err error)
	}{
		{"spotify fails with a located error", e.register, commands.RegisterConnection{Name: "Spotify",
			Document: commands.DocumentSource{Text: testservers.ReadSpec(t, "spotify-3.0-broken.json")}},
			func(t *testing.T, err error) {
				var ie *openapi.ImportError
				require.ErrorAs(t, err, &ie)
				assert.NotEmpty(t, ie.Pointer)
				assert.Positive(t, ie.Line)
			}},
		{"too large", registerSmall, commands.RegisterConnection{Name: "Pets", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: petstore}},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, openapi.ErrTooLarge) }},
		{"not a document", e.register, commands.RegisterConnection{Name: "x", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: []byte(`{"openapi": "3.0.0", "info": `)}},
			func(t *testing.T, err error) {
				var ie *openapi.ImportError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, openapi.CodeInvalidSyntax, ie.Code)
			}},
		{"no name", e.register, commands.RegisterConnection{Name: " ", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: petstore}},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, domain.ErrInvalid) }},
		{"relative server without base_url", e.register, commands.RegisterConnection{Name: "Pets",
			Document: commands.DocumentSource{Text: bytes.Replace(petstore, []byte("url: https://petstore3.swagger.io/api/v3"), []byte("url: /api/v3"), 1)}},
			func(t *testing.T, err error) { assertReason(t, err, "base_url_required") }},
		{"no document", e.register, commands.RegisterConnection{Name: "Pets", BaseURL: "https://x.example"},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, commands.ErrDocumentRequired) }},
		{"two documents", e.register, commands.RegisterConnection{Name: "Pets", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: petstore, URL: "https://x.example/openapi.json"}},
			func(t *testing.T, err error) { assert.ErrorIs(t, err, commands.ErrDocumentTwice) }},
		{"bad credentials", e.register, commands.RegisterConnection{Name: "Pets", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: petstore}, Auth: &credentials.Input{Type: "basic", Username: "u"}},
			func(t *testing.T, err error) { assertReason(t, err, "required") }},
		{"credentials the document cannot place", e.register, commands.RegisterConnection{Name: "Pets", BaseURL: "https://x.example",
			Document: commands.DocumentSource{Text: testservers.HTTPBinOpenAPI()}, Auth: &credentials.Input{Type: "api_key", Key: "k"}},
			func(t *testing.T, err error) { assertReason(t, err, "ambiguous_scheme") }},
	}
	before := e.counts(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.handler.Handle(within(t, time.Minute), userOf(acme.TenantID, "refused-"+tt.name), tt.cmd)
			require.Error(t, err)
			tt.check(t, err)
			assert.Equal(t, before, e.counts(t), "no event, blob or data key was stored")
		})
	}
}

func assertReason(t *testing.T, err error, code string) {
	t.Helper()
	var de *domain.Error
	require.ErrorAs(t, err, &de, "%v", err)
	assert.Equal(t, code, de.Code, "%v", err)
}

func TestRegisterFetchesTheDocumentThroughTheAllowlist(t *testing.T) {
	t.Parallel()
	allowed := newConnEnv(t, loopback)
	refused := newConnEnv(t, nil)
	httpbin := testservers.StartHTTPBin(t)
	ctx := within(t, time.Minute)

	acme := allowed.tenantWithAdmin(t, "acme")
	res, err := allowed.register.Handle(ctx, userOf(acme.TenantID, "fetch"), commands.RegisterConnection{
		Name: "httpbin", Document: commands.DocumentSource{URL: httpbin.OpenAPIURL()},
	})
	require.NoError(t, err)
	evs := allowed.stream(t, connection.Stream(res.ConnectionID))
	reg := decodeAs[connection.Registered](t, evs[0])
	assert.Equal(t, httpbin.OpenAPIURL(), reg.DocumentURL)
	assert.Equal(t, httpbin.URL, reg.BaseURL, "the base URL comes from the fetched document")
	stored, err := allowed.blobs.Get(ctx, decodeAs[connection.DocumentImported](t, evs[1]).DocumentHash)
	require.NoError(t, err)
	assert.Equal(t, httpbin.OpenAPIDocument(), stored)

	_, err = allowed.register.Handle(ctx, userOf(acme.TenantID, "fetch-404"), commands.RegisterConnection{
		Name: "missing", Document: commands.DocumentSource{URL: httpbin.URL + "/status/404"},
	})
	var fetchErr *commands.DocumentFetchError
	require.ErrorAs(t, err, &fetchErr)
	assert.Equal(t, "http_status", fetchErr.Reason)
	assert.Equal(t, 404, fetchErr.Status)

	other := refused.tenantWithAdmin(t, "other")
	before := refused.counts(t)
	_, err = refused.register.Handle(ctx, userOf(other.TenantID, "fetch"), commands.RegisterConnection{
		Name: "httpbin", Document: commands.DocumentSource{URL: httpbin.OpenAPIURL()},
	})
	require.ErrorAs(t, err, &fetchErr)
	assert.Equal(t, "blocked_address", fetchErr.Reason, "loopback is refused unless APIQ_OUTBOUND_ALLOW lists it")
	assert.ErrorIs(t, err, commands.ErrDocumentFetch)
	assert.Equal(t, before, refused.counts(t))

	_, err = refused.register.Handle(ctx, userOf(other.TenantID, "fetch-file"), commands.RegisterConnection{
		Name: "file", Document: commands.DocumentSource{URL: "file:///etc/passwd"},
	})
	assertReason(t, err, "invalid_document_url")
}

func TestRegisterIsIdempotentPerRequest(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	cmd := commands.RegisterConnection{Name: "httpbin", BaseURL: "http://127.0.0.1:9",
		Document: commands.DocumentSource{Text: testservers.HTTPBinOpenAPI()},
		Auth:     &credentials.Input{Type: "bearer", Token: "a-bearer-token"}}
	first, err := e.register.Handle(ctx, userOf(acme.TenantID, "same-request"), cmd)
	require.NoError(t, err)
	before := e.counts(t)
	again, err := e.register.Handle(ctx, userOf(acme.TenantID, "same-request"), cmd)
	require.NoError(t, err)
	assert.Equal(t, first, again, "a retried request finds the connection it made")
	assert.Equal(t, before, e.counts(t))

	other, err := e.register.Handle(ctx, userOf(acme.TenantID, "another-request"), cmd)
	require.NoError(t, err)
	assert.NotEqual(t, first.ConnectionID, other.ConnectionID)
}

func TestReimportRecordsTheDiff(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	original := testservers.HTTPBinOpenAPI()
	reg, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg"), commands.RegisterConnection{
		Name: "httpbin", Document: commands.DocumentSource{Text: original},
	})
	require.NoError(t, err)

	var doc map[string]any
	require.NoError(t, json.Unmarshal(original, &doc))
	paths := doc["paths"].(map[string]any)
	delete(paths, "/bearer")
	paths["/uuid"] = map[string]any{"get": map[string]any{"operationId": "getUUID", "responses": map[string]any{"200": map[string]any{"description": "a uuid"}}}}
	get := paths["/get"].(map[string]any)["get"].(map[string]any)
	get["parameters"] = []any{map[string]any{"name": "q", "in": "query", "required": true, "schema": map[string]any{"type": "string"}}}
	changed, err := json.Marshal(doc)
	require.NoError(t, err)

	res, err := e.reimport.Handle(ctx, userOf(acme.TenantID, "reimport"), commands.ReimportConnectionDocument{
		ConnectionID: reg.ConnectionID, Document: commands.DocumentSource{Text: changed},
	})
	require.NoError(t, err)
	assert.False(t, res.Unchanged)
	assert.Positive(t, res.Position.Compare(reg.Position))
	evs := e.stream(t, connection.Stream(reg.ConnectionID))
	require.Equal(t, []string{connection.TypeRegistered, connection.TypeDocumentImported, connection.TypeEndpointsDiscovered,
		connection.TypeDocumentImported, connection.TypeEndpointsDiscovered}, types(evs))
	diff := decodeAs[connection.EndpointsDiscovered](t, evs[4])
	assert.Equal(t, []connection.OperationRef{{Method: "GET", Path: "/uuid", OperationID: "getUUID"}}, diff.Added)
	assert.Equal(t, []connection.OperationRef{{Method: "GET", Path: "/bearer", OperationID: "checkBearer"}}, diff.Removed)
	require.Len(t, diff.Changed, 1)
	assert.Equal(t, "/get", diff.Changed[0].Path)
	assert.NotEmpty(t, diff.Changed[0].Changes)

	again, err := e.reimport.Handle(ctx, userOf(acme.TenantID, "reimport-same"), commands.ReimportConnectionDocument{
		ConnectionID: reg.ConnectionID, Document: commands.DocumentSource{Text: changed},
	})
	require.NoError(t, err)
	assert.True(t, again.Unchanged, "the same document records nothing")
	assert.Equal(t, res.Position, again.Position)

	before := e.counts(t)
	_, err = e.reimport.Handle(ctx, userOf(acme.TenantID, "reimport-bad"), commands.ReimportConnectionDocument{
		ConnectionID: reg.ConnectionID, Document: commands.DocumentSource{Text: bytes.ReplaceAll(changed, []byte(`"paths"`), []byte(`"pathz"`))},
	})
	require.Error(t, err)
	assert.Equal(t, before, e.counts(t), "a bad document leaves the connection as it was")

	other := e.tenantWithAdmin(t, "other")
	_, err = e.reimport.Handle(ctx, userOf(other.TenantID, "reimport-other"), commands.ReimportConnectionDocument{
		ConnectionID: reg.ConnectionID, Document: commands.DocumentSource{Text: original},
	})
	assert.ErrorIs(t, err, connection.ErrNotFound, "another tenant's connection is not found")
}

func TestConnectionLifecycle(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	reg, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg"), commands.RegisterConnection{
		Name: "httpbin", BaseURL: "https://api.example.com/v1", Document: commands.DocumentSource{Text: testservers.HTTPBinOpenAPI()},
		Auth: &credentials.Input{Type: "bearer", Token: "first-bearer-token"},
	})
	require.NoError(t, err)
	id := reg.ConnectionID
	admin := adminOf(acme.TenantID, acme.AdminUserID, "")
	elsewhere := "https://evil.example.net"
	newToken := &credentials.Input{Type: "bearer", Token: "second-bearer-token"}

	steps := []struct {
		name       string
		meta       commands.Meta
		cmd        commands.UpdateConnection
		wantErr    error
		wantEvents []string
	}{
		{"rename", userOf(acme.TenantID, "rename"), commands.UpdateConnection{Name: ptr("Bin")}, nil,
			[]string{connection.TypeUpdated}},
		{"new path on the same host", userOf(acme.TenantID, "path"), commands.UpdateConnection{BaseURL: ptr("https://api.example.com/v2")}, nil,
			[]string{connection.TypeUpdated}},
		{"a USER moving credentials", userOf(acme.TenantID, "move-user"), commands.UpdateConnection{BaseURL: &elsewhere, Auth: newToken},
			connection.ErrBaseURLChangeNeedsAdmin, nil},
		{"an ADMIN moving without new credentials", withRequest(admin, "move-admin"), commands.UpdateConnection{BaseURL: &elsewhere},
			connection.ErrCredentialsRequired, nil},
		{"an ADMIN moving with new credentials", withRequest(admin, "move-admin-creds"), commands.UpdateConnection{BaseURL: &elsewhere, Auth: newToken}, nil,
			[]string{connection.TypeUpdated, connection.TypeCredentialsSet}},
		{"rotation", userOf(acme.TenantID, "rotate"), commands.UpdateConnection{Auth: &credentials.Input{Type: "bearer", Token: "third-bearer-token"}}, nil,
			[]string{connection.TypeCredentialsRotated}},
		{"nothing changes", userOf(acme.TenantID, "noop"), commands.UpdateConnection{Name: ptr("Bin")}, nil, nil},
		{"bad base url", userOf(acme.TenantID, "bad"), commands.UpdateConnection{BaseURL: ptr("ftp://x")}, domain.ErrInvalid, nil},
	}
	for _, s := range steps {
		before := len(e.stream(t, connection.Stream(id)))
		data := e.counts(t)
		s.cmd.ConnectionID = id
		_, err := e.update.Handle(ctx, s.meta, s.cmd)
		if s.wantErr != nil {
			require.ErrorIs(t, err, s.wantErr, s.name)
			assert.Equal(t, data, e.counts(t), "%s: a refusal seals nothing", s.name)
			continue
		}
		require.NoError(t, err, s.name)
		got := types(e.stream(t, connection.Stream(id))[before:])
		if s.wantEvents == nil {
			assert.Empty(t, got, s.name)
			continue
		}
		assert.Equal(t, s.wantEvents, got, s.name)
	}

	_, err = e.disable.Handle(ctx, userOf(acme.TenantID, "disable"), commands.DisableConnection{ConnectionID: id, Reason: "maintenance"})
	require.NoError(t, err)
	_, err = e.test.Handle(ctx, userOf(acme.TenantID, "test-disabled"), commands.TestConnection{ConnectionID: id})
	assert.ErrorIs(t, err, connection.ErrDisabled)
	_, err = e.enable.Handle(ctx, userOf(acme.TenantID, "enable"), commands.EnableConnection{ConnectionID: id})
	require.NoError(t, err)

	other := e.tenantWithAdmin(t, "other")
	for name, run := range map[string]func() error{
		"update": func() error {
			_, err := e.update.Handle(ctx, userOf(other.TenantID, "x"), commands.UpdateConnection{ConnectionID: id, Name: ptr("mine")})
			return err
		},
		"disable": func() error {
			_, err := e.disable.Handle(ctx, userOf(other.TenantID, "y"), commands.DisableConnection{ConnectionID: id})
			return err
		},
		"delete": func() error {
			_, err := e.remove.Handle(ctx, userOf(other.TenantID, "z"), commands.DeleteConnection{ConnectionID: id})
			return err
		},
	} {
		assert.ErrorIs(t, run(), connection.ErrNotFound, "another tenant cannot %s it", name)
	}
}

func credentialScope(tenantID, connectionID, field string) vault.Scope {
	return vault.Scope{Tenant: tenantID, Owner: credentials.KeyOwner(connectionID), Field: field}
}

func withRequest(m commands.Meta, requestID string) commands.Meta {
	m.RequestID = requestID
	return m
}

func TestDeleteShredsTheCredentialsAndKeepsTheHistory(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	acme := e.tenantWithAdmin(t, "acme")
	ctx := within(t, time.Minute)
	reg, err := e.register.Handle(ctx, userOf(acme.TenantID, "reg"), commands.RegisterConnection{
		Name: "httpbin", BaseURL: "http://127.0.0.1:9", Document: commands.DocumentSource{Text: testservers.HTTPBinOpenAPI()},
		Auth: &credentials.Input{Type: "basic", Username: "ada", Password: "a-basic-password"},
	})
	require.NoError(t, err)
	sealed := decodeAs[connection.CredentialsSet](t, e.stream(t, connection.Stream(reg.ConnectionID))[3]).Sealed["password"]
	scope := credentialScope(acme.TenantID, reg.ConnectionID, "password")
	plain, err := e.vault.DecryptString(ctx, scope, sealed)
	require.NoError(t, err)
	require.Equal(t, "a-basic-password", plain)

	del, err := e.remove.Handle(ctx, userOf(acme.TenantID, "delete"), commands.DeleteConnection{ConnectionID: reg.ConnectionID})
	require.NoError(t, err)
	again, err := e.remove.Handle(ctx, userOf(acme.TenantID, "delete"), commands.DeleteConnection{ConnectionID: reg.ConnectionID})
	require.NoError(t, err, "a retried delete completes quietly")
	assert.Equal(t, del, again)
	_, err = e.remove.Handle(ctx, userOf(acme.TenantID, "delete-again"), commands.DeleteConnection{ConnectionID: reg.ConnectionID})
	assert.ErrorIs(t, err, connection.ErrNotFound)

	evs := e.stream(t, connection.Stream(reg.ConnectionID))
	assert.Equal(t, []string{connection.TypeRegistered, connection.TypeDocumentImported, connection.TypeEndpointsDiscovered,
		connection.TypeCredentialsSet, connection.TypeDeleted}, types(evs), "the history stays")
	_, err = e.vault.DecryptString(ctx, scope, sealed)
	assert.ErrorIs(t, err, vault.ErrKeyDestroyed, "the sealed password can never be decrypted again")
	_, err = e.test.Handle(ctx, userOf(acme.TenantID, "test"), commands.TestConnection{ConnectionID: reg.ConnectionID})
	assert.ErrorIs(t, err, connection.ErrNotFound)
}

func TestCiphertextsAreBoundToTenantAndConnection(t *testing.T) {
	t.Parallel()
	e := newConnEnv(t, loopback)
	ctx := within(t, time.Minute)
	acme := e.tenantWithAdmin(t, "acme")
	other := e.tenantWithAdmin(t, "other")
	register := func(tenantID, req string) (string, connection.Credentials) {
		res, err := e.register.Handle(ctx, userOf(tenantID, req), commands.RegisterConnection{
			Name: req, BaseURL: "http://127.0.0.1:9", Document: commands.DocumentSource{Text: testservers.HTTPBinOpenAPI()},
			Auth: &credentials.Input{Type: "bearer", Token: "token-of-" + req},
		})
		require.NoError(t, err)
		return res.ConnectionID, decodeAs[connection.CredentialsSet](t, e.stream(t, connection.Stream(res.ConnectionID))[3]).Credentials
	}
	a, credsA := register(acme.TenantID, "a")
	b, _ := register(acme.TenantID, "b")
	c, _ := register(other.TenantID, "c")

	for name, scope := range map[string][3]string{
		"another connection of the tenant":      {acme.TenantID, b, "token"},
		"another tenant's connection":           {other.TenantID, c, "token"},
		"the same connection in another tenant": {other.TenantID, a, "token"},
		"another field":                         {acme.TenantID, a, "password"},
	} {
		_, err := e.vault.DecryptString(ctx, credentialScope(scope[0], scope[1], scope[2]), credsA.Sealed["token"])
		assert.Error(t, err, name)
	}
	req := outbound.Request{URL: "http://127.0.0.1:9/bearer"}
	_, err := e.manager.Apply(ctx, &req, acme.TenantID, b, credsA)
	assert.ErrorIs(t, err, vault.ErrTampered, "a's sealed token copied into b's record does not decrypt")
	_, err = e.manager.Apply(ctx, &req, other.TenantID, a, credsA)
	assert.Error(t, err, "nor in another tenant")
	applied, err := e.manager.Apply(ctx, &req, acme.TenantID, a, credsA)
	require.NoError(t, err)
	assert.Equal(t, []string{"token-of-a"}, applied.Values)
}
