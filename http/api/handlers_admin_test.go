package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/openapi"
)

// fakeTokenQueries holds the API tokens of each tenant.
type fakeTokenQueries map[string][]Token

func (f fakeTokenQueries) ListTokens(_ context.Context, tenantID string) ([]Token, error) {
	return f[tenantID], nil
}

// fakeKeyStatus holds the key status of each tenant.
type fakeKeyStatus map[string]KeyRotationStatus

func (f fakeKeyStatus) KeyStatus(_ context.Context, tenantID string) (KeyRotationStatus, error) {
	return f[tenantID], nil
}

func TestAdminTokenAndKeyRoutes(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	revoked := created.Add(time.Hour)
	tokens := fakeTokenQueries{
		"tenant-1": {
			{ID: "tok-1", Name: "ci", UserID: "admin", CreatedAt: created},
			{ID: "tok-2", Name: "old", UserID: "alice", CreatedAt: created, RevokedAt: &revoked, Revoked: true},
		},
		"tenant-2": {{ID: "tok-9", Name: "theirs", UserID: "someone", CreatedAt: created}},
	}
	keys := fakeKeyStatus{"tenant-1": {ActiveKEK: "k2", RotationComplete: false, KEKs: []KEKUsage{
		{ID: "k2", Active: true, InRing: true, DataKeys: 3}, {ID: "k1", InRing: true, DataKeys: 1}}}}
	h := newHarness(t, func(_ *Config, d *Deps) { d.TokenQueries, d.Keys = tokens, keys })
	bare := newHarness(t, nil)
	doc, err := openapi.Load(context.Background())
	require.NoError(t, err)

	tests := []struct {
		name    string
		h       *harness
		path    string
		headers []string
		status  int
		check   func(t *testing.T, body map[string]any)
	}{
		{"tokens for an ADMIN", h, "/v1/tokens", asAdmin, http.StatusOK, func(t *testing.T, body map[string]any) {
			list := body["tokens"].([]any)
			require.Len(t, list, 2, "only the caller's tenant")
			first, second := list[0].(map[string]any), list[1].(map[string]any)
			assert.Equal(t, map[string]any{"id": "tok-1", "name": "ci", "user_id": "admin",
				"created_at": "2026-12-01T09:00:00Z", "revoked": false}, first)
			assert.Equal(t, true, second["revoked"])
			assert.Equal(t, "2026-12-01T10:00:00Z", second["revoked_at"])
		}},
		{"tokens refused to a USER", h, "/v1/tokens", asUser, http.StatusForbidden, nil},
		{"tokens unconfigured", bare, "/v1/tokens", asAdmin, http.StatusNotFound, nil},
		{"keys for an ADMIN", h, "/v1/keys", asAdmin, http.StatusOK, func(t *testing.T, body map[string]any) {
			assert.Equal(t, "k2", body["active_kek"])
			assert.Equal(t, false, body["rotation_complete"])
			require.Len(t, body["keks"], 2)
			assert.Equal(t, map[string]any{"id": "k1", "active": false, "in_keyring": true, "data_keys": float64(1)},
				body["keks"].([]any)[1])
		}},
		{"keys refused to a USER", h, "/v1/keys", asUser, http.StatusForbidden, nil},
		{"keys unconfigured", bare, "/v1/keys", asAdmin, http.StatusNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.h.do("GET", tc.path, "", tc.headers...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status != http.StatusOK {
				assert.NotEmpty(t, errorBody(t, rec).Code)
				if tc.status == http.StatusForbidden {
					assert.Equal(t, apierror.CodeForbidden, errorBody(t, rec).Code)
				}
				return
			}
			tc.check(t, decodeJSON(t, rec))
			item := doc.Spec().Paths.Find(tc.path)
			require.NotNil(t, item, tc.path)
			input := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: httptest.NewRequest("GET", tc.path, nil),
					Route: &routers.Route{Spec: doc.Spec(), Path: tc.path, PathItem: item, Method: "GET", Operation: item.Get}},
				Status: rec.Code, Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
				Options: &openapi3filter.Options{IncludeResponseStatus: true},
			}
			assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input), rec.Body.String())
		})
	}
}
