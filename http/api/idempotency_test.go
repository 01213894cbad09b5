package api

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/idempotency"
)

const newUserBody = `{"email":"bob@example.com","name":"Bob","password":"long enough pw","role":"USER"}`

func TestIdempotencyKeyReplaysFirstResponse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	first := h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "create-bob")...)
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	assert.Empty(t, first.Header().Get(idempotency.ReplayedHeader))

	second := h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "create-bob")...)
	require.Equal(t, http.StatusCreated, second.Code)
	assert.JSONEq(t, first.Body.String(), second.Body.String())
	assert.Equal(t, "true", second.Header().Get(idempotency.ReplayedHeader))
	assert.Equal(t, int64(1), h.identity.creates.Load(), "the command ran once")

	// The command's request id derives from the key: deterministic event ids.
	assert.Equal(t, idempotency.CommandRequestID(idempotency.Scope{TenantID: "tenant-1", Actor: "admin", Key: "create-bob"}),
		h.identity.metas[0].RequestID)

	// Without a key every request executes.
	h.do("POST", "/v1/users", newUserBody, asAdmin...)
	h.do("POST", "/v1/users", newUserBody, asAdmin...)
	assert.Equal(t, int64(3), h.identity.creates.Load())
}

func TestIdempotencyKeyReusedForAnotherRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rec := h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "k1")...)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())

	tests := []struct{ name, path, body string }{
		{"different body", "/v1/users", `{"email":"eve@example.com","name":"Eve","password":"long enough pw","role":"USER"}`},
		{"different route", "/v1/tokens", `{"name":"ci"}`},
	}
	for _, tt := range tests {
		rec := h.do("POST", tt.path, tt.body, with(asAdmin, idempotency.Header, "k1")...)
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s: %s", tt.name, rec.Body.String())
		assert.Equal(t, apierror.CodeIdempotencyKeyReused, errorBody(t, rec).Code, tt.name)
	}
	assert.Equal(t, int64(1), h.identity.creates.Load())
}

func TestIdempotencyKeysArePrivateToTheirActor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	second := h.identity.users["admin"]
	second.ID = "admin2"
	h.identity.users["admin2"] = second

	a := h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "shared")...)
	b := h.do("POST", "/v1/users", newUserBody, "Authorization", "Bearer token-admin2", idempotency.Header, "shared")
	require.Equal(t, http.StatusCreated, a.Code)
	require.Equal(t, http.StatusCreated, b.Code)
	assert.Empty(t, b.Header().Get(idempotency.ReplayedHeader))
	assert.Equal(t, int64(2), h.identity.creates.Load())
	assert.NotEqual(t, h.identity.metas[0].RequestID, h.identity.metas[1].RequestID)
}

func TestConcurrentDuplicatesExecuteOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	gate := make(chan struct{})
	h.identity.createGate = gate

	const n = 8
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			recs[i] = h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "race")...)
		})
	}
	// Let the duplicates pile up on the claimed key, then let the one
	// request that claimed it finish.
	time.Sleep(200 * time.Millisecond)
	close(gate)
	wg.Wait()

	assert.Equal(t, int64(1), h.identity.creates.Load(), "exactly one request executed")
	replayed := 0
	for _, rec := range recs {
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		assert.JSONEq(t, recs[0].Body.String(), rec.Body.String())
		if rec.Header().Get(idempotency.ReplayedHeader) == "true" {
			replayed++
		}
	}
	assert.Equal(t, n-1, replayed)
}

func TestServerErrorsReleaseTheKey(t *testing.T) {
	t.Parallel()
	failing := &failingOnce{}
	h := newHarness(t, func(_ *Config, d *Deps) {
		failing.UserCommands = d.UserCommands
		d.UserCommands = failing
	})
	rec := h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "retry-me")...)
	require.Equal(t, http.StatusInternalServerError, rec.Code, rec.Body.String())

	rec = h.do("POST", "/v1/users", newUserBody, with(asAdmin, idempotency.Header, "retry-me")...)
	require.Equal(t, http.StatusCreated, rec.Code, "a retry after a server error executes: %s", rec.Body.String())
	assert.Empty(t, rec.Header().Get(idempotency.ReplayedHeader))
}
