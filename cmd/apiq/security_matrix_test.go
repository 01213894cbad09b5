package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain/security"
	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/http/auth"
)

// matrixDocument is a tiny OpenAPI document whose API listens nowhere.
const matrixDocument = `{"openapi":"3.0.3","info":{"title":"Matrix","version":"1"},` +
	`"servers":[{"url":"http://127.0.0.1:1"}],"paths":{"/pets":{"get":{"operationId":"listPets","responses":{"200":{"description":"ok"}}}}}}`

// routeBodies is the request body of every route of the policy table
// ("" for none). A route missing here fails TestRouteRoleTenantMatrix: a
// new route must say how it is called so that the matrix covers it.
var routeBodies = map[string]string{
	"GET /healthz": "", "GET /readyz": "", "GET /metrics": "", "GET /openapi.json": "", "GET /docs": "",
	"POST /v1/auth/login": `{"email":"nobody@example.com","password":"not a password"}`,
	"GET /v1/me":          "",
	"GET /v1/users":       "", "POST /v1/users": `{"email":"%s@example.com","name":"M","password":"a long password","role":"USER"}`,
	"GET /v1/users/:id": "", "PATCH /v1/users/:id": `{"name":"Renamed"}`, "DELETE /v1/users/:id": "",
	"GET /v1/tokens": "", "POST /v1/tokens": `{"name":"matrix"}`, "DELETE /v1/tokens/:id": "", "GET /v1/keys": "",
	"GET /v1/connections": "", "POST /v1/connections": `{"name":"M","document":` + jsonString(matrixDocument) + `}`,
	"GET /v1/connections/:id": "", "PATCH /v1/connections/:id": `{"name":"Renamed"}`, "DELETE /v1/connections/:id": "",
	"PUT /v1/connections/:id/document": `{"document":` + jsonString(matrixDocument) + `}`,
	"POST /v1/connections/:id/test":    `{"operation_id":"listPets"}`,
	"POST /v1/connections/:id/disable": "", "POST /v1/connections/:id/enable": "",
	"GET /v1/connections/:id/oauth/start": "", "GET /v1/oauth/callback": "",
	"GET /v1/connections/:id/endpoints": "", "GET /v1/endpoints/search": "",
	"GET /v1/audit/events": "", "GET /v1/audit/export": "", "GET /v1/audit/streams/:stream": "",
	"GET /v1/audit/executions/:id/timeline": "", "GET /v1/audit/verify": "", "GET /v1/audit/heads": "",
	"GET /v1/executions": "", "POST /v1/executions": `{"plan_id":"%s"}`, "GET /v1/executions/:id": "",
	"GET /v1/executions/:id/events": "", "POST /v1/executions/:id/cancel": `{"reason":"matrix"}`,
	"POST /v1/auth/session": `{"email":"nobody@example.com","password":"not a password"}`, "POST /v1/auth/logout": "",
	"GET /v1/auth/sso/providers": "", "GET /v1/auth/sso/:provider/start": "", "GET /v1/auth/sso/:provider/callback": "",
	"GET /v1/sso/providers": "", "POST /v1/sso/providers": matrixSSOProvider, "DELETE /v1/sso/providers/:id": "",
	"GET /v1/plans": "", "POST /v1/plans": `{"prompt":"list the pets %s"}`, "GET /v1/plans/usage": "",
	"GET /v1/plans/settings": "", "PUT /v1/plans/settings": `{"destructive_requires_second_admin":false}`,
	"GET /v1/plans/:id": "", "POST /v1/plans/:id/confirm": "{}", "POST /v1/plans/:id/reject": `{"reason":"matrix"}`,
	"POST /v1/plans/:id/revise": `{"prompt":"list the pets again %s"}`,
	"POST /v1/me/totp":          "", "POST /v1/me/totp/confirm": `{"code":"000000"}`, "DELETE /v1/me/totp": `{"code":"000000"}`,
	"GET /v1/tenant/security": "", "PUT /v1/tenant/security": `{"totp_required":false}`,
	"DELETE /v1/users/:id/totp": "",
}

// matrixSSOProvider is an OpenID provider nobody listens for: starting a
// login through it fails, and the browser is sent back to the interface.
const matrixSSOProvider = `{"name":"Matrix IdP","issuer_url":"http://127.0.0.1:1","client_id":"apiq","client_secret":"s3cret"}`

func jsonString(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// tenantObjects makes real objects of one tenant through its ADMIN.
type tenantObjects struct {
	s     *service
	admin string
	n     atomic.Int64
}

func (o *tenantObjects) created(path, body string) string {
	o.s.t.Helper()
	status, out := o.s.json("POST", path, o.admin, body)
	require.Equal(o.s.t, http.StatusCreated, status, "%s: %v", path, out)
	id, _ := out["id"].(string)
	require.NotEmpty(o.s.t, id, out)
	if pos, ok := out["position"].(string); ok {
		status, _ = o.s.json("GET", "/v1/me?min_position="+pos, o.admin, "")
		require.Equal(o.s.t, http.StatusOK, status)
	}
	return id
}

func (o *tenantObjects) user() string {
	return o.created("/v1/users", fmt.Sprintf(`{"email":"made%d-%s@example.com","name":"M","password":"a long password","role":"USER"}`,
		o.n.Add(1), uuid.NewString()[:8]))
}

// objectFor returns a path-parameter value of a real object for a route
// with parameters, by the path's resource; false when none is known.
func (o *tenantObjects) objectFor(path string) (string, bool) {
	switch {
	case strings.HasPrefix(path, "/v1/users/:id"):
		return o.user(), true
	case strings.HasPrefix(path, "/v1/tokens/:id"):
		return o.created("/v1/tokens", `{"name":"matrix"}`), true
	case strings.HasPrefix(path, "/v1/connections/:id"):
		return o.created("/v1/connections", routeBodies["POST /v1/connections"]), true
	case strings.HasPrefix(path, "/v1/sso/providers/:id"), strings.HasPrefix(path, "/v1/auth/sso/:provider"):
		return o.created("/v1/sso/providers", matrixSSOProvider), true
	case strings.HasPrefix(path, "/v1/plans/:id"):
		// Drafted from the catalogue search: no model is configured.
		return o.created("/v1/plans", `{"prompt":"list the pets"}`), true
	case strings.HasPrefix(path, "/v1/audit/streams/:stream"):
		return "user-" + o.user(), true
	case strings.HasPrefix(path, "/v1/executions/:id"):
		// Finished before use: the engine appends nothing later.
		id, _ := o.s.startExecution(o.admin, o.s.confirmPlan(o.admin, transformPlan()), "")
		o.s.awaitExecution(o.admin, id)
		return id, true
	case strings.HasPrefix(path, "/v1/audit/executions/:id"):
		// No execution factory exists yet: an id nobody has.
		return uuid.NewString(), true
	}
	return "", false
}

// fill replaces the route's path parameter with value.
func fill(path, value string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = value
		}
	}
	return strings.Join(parts, "/")
}

// TestRouteRoleTenantMatrix walks every declared route × method × role
// (USER, ADMIN, AUDITOR, anonymous) × (own tenant's object, other tenant's
// object): anonymous callers get 401 on every non-public route, roles the
// policy leaves out get 403, allowed roles pass authorisation on their
// own tenant's objects and get 404 on the other tenant's, list answers
// never show the other tenant's objects, and nothing the calls do lands in
// the other tenant's event streams.
func TestRouteRoleTenantMatrix(t *testing.T) {
	s := startService(t, map[string]string{"APIQ_RATE_LIMIT": "100000", "APIQ_RATE_BURST": "100000"})
	callers := map[string]string{
		"":               "",
		auth.RoleAdmin:   s.admin,
		auth.RoleUser:    s.user("matrix-user@example.com", auth.RoleUser),
		auth.RoleAuditor: s.user("matrix-auditor@example.com", auth.RoleAuditor),
	}
	otherAdmin := s.otherTenantAdmin()
	_, otherMe := s.json("GET", "/v1/me", otherAdmin, "")
	otherTenant := otherMe["tenant_id"].(string)
	own := &tenantObjects{s: s, admin: s.admin}
	other := &tenantObjects{s: s, admin: otherAdmin}

	policy := api.Policy()
	require.NotEmpty(t, policy)
	type call struct {
		route  api.RoutePolicy
		key    string
		body   string
		params bool
	}
	var calls []call
	for _, r := range policy {
		key := r.Method + " " + r.Path
		body, ok := routeBodies[key]
		if !assert.True(t, ok, "route %s has no entry in routeBodies: say how the matrix calls it", key) {
			continue
		}
		params := strings.Contains(r.Path, ":")
		if params {
			_, known := own.objectFor(r.Path)
			if !assert.True(t, known, "route %s has path parameters but no object factory", key) {
				continue
			}
		}
		calls = append(calls, call{route: r, key: key, body: body, params: params})
	}
	unique := func(body string) string {
		if strings.Contains(body, "%s") {
			return fmt.Sprintf(body, "m"+uuid.NewString()[:8])
		}
		return body
	}
	allowed := func(a auth.Access, role string) bool {
		if a.Public {
			return true
		}
		for _, r := range a.Roles {
			if r == role {
				return true
			}
		}
		return false
	}
	// A failed sign-in through the other tenant's provider (a public route)
	// is that tenant's security event by design; nothing else may land there.
	otherEvents := func() int {
		return s.count(`SELECT count(*) FROM events WHERE tenant_id = $1 AND event_type <> $2`, otherTenant, security.TypeSSOLoginFailed)
	}

	// The other tenant's objects: made once per route, called by every role
	// of the first tenant. Nothing may change there.
	var otherIDs []string
	otherTarget := map[string]string{}
	for _, c := range calls {
		if c.params {
			id, _ := other.objectFor(c.route.Path)
			otherTarget[c.key] = fill(c.route.Path, id)
			otherIDs = append(otherIDs, strings.TrimPrefix(id, "user-"))
		}
	}
	// and the other tenant's users, to hunt for in every answer
	status, otherUsers := s.json("GET", "/v1/users", otherAdmin, "")
	require.Equal(t, http.StatusOK, status)
	for _, u := range otherUsers["users"].([]any) {
		otherIDs = append(otherIDs, u.(map[string]any)["id"].(string))
	}
	before := otherEvents()
	var checked int
	// The own tenant first (before the audit trail records the attempts
	// on the other tenant's ids): fresh objects for calls that change state.
	shared := map[string]string{}
	for _, c := range calls {
		for role, token := range callers {
			path := c.route.Path
			if strings.HasSuffix(path, "/search") {
				path += "?q=pets"
			}
			if c.params {
				if c.route.Method == http.MethodGet {
					if _, ok := shared[c.key]; !ok {
						id, _ := own.objectFor(c.route.Path)
						shared[c.key] = id
					}
					path = fill(path, shared[c.key])
				} else {
					id, _ := own.objectFor(c.route.Path)
					path = fill(path, id)
				}
			}
			status, _, raw := s.send(c.route.Method, path, token, bodyReader(unique(c.body)), contentType(c.body))
			checked++
			switch {
			case c.route.Access.Public:
				assert.NotEqual(t, http.StatusForbidden, status, "%s as %q: %s", c.key, role, raw)
				assert.Less(t, status, 500, "%s as %q: %s", c.key, role, raw)
			case role == "":
				assert.Equal(t, http.StatusUnauthorized, status, "%s anonymous: %s", c.key, raw)
			case !allowed(c.route.Access, role):
				assert.Equal(t, http.StatusForbidden, status, "%s as %s: %s", c.key, role, raw)
			default:
				assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, status, "%s as %s: %s", c.key, role, raw)
				assert.Less(t, status, 500, "%s as %s: %s", c.key, role, raw)
			}
			for _, leak := range append([]string{"other.example"}, otherIDs...) {
				if i := strings.Index(string(raw), leak); i >= 0 {
					t.Errorf("%s as %q shows the other tenant's %s: …%s…", c.key, role, leak, raw[max(0, i-300):min(len(raw), i+100)])
				}
			}
		}
	}
	// Then the other tenant's objects, called by every role of the first
	// tenant: 401, 403 or 404, and nothing changes there.
	for _, c := range calls {
		if !c.params {
			continue
		}
		for role, token := range callers {
			send := s.send
			if c.route.Access.Public {
				// The route's own answer, not that of the interface it may
				// send the browser back to.
				send = s.sendOnce
			}
			status, _, raw := send(c.route.Method, otherTarget[c.key], token, bodyReader(unique(c.body)), contentType(c.body))
			checked++
			switch {
			case c.route.Access.Public:
				assert.NotEqual(t, http.StatusOK, status, "%s as %q on the other tenant's object", c.key, role)
			case role == "":
				assert.Equal(t, http.StatusUnauthorized, status, "%s anonymous: %s", c.key, raw)
			case !allowed(c.route.Access, role):
				assert.Equal(t, http.StatusForbidden, status, "%s as %s: %s", c.key, role, raw)
			default:
				assert.Equal(t, http.StatusNotFound, status, "%s as %s on the other tenant's object: %s", c.key, role, raw)
			}
		}
	}

	assert.Equal(t, before, otherEvents(), "nothing landed in the other tenant")
	t.Logf("%d routes, %d calls", len(calls), checked)
}

// sendOnce is send without following redirects.
func (s *service) sendOnce(method, path, token string, body io.Reader, contentType string, _ ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	require.NoError(s.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, resp.Header, raw
}

func bodyReader(body string) io.Reader {
	if body == "" {
		return nil
	}
	return strings.NewReader(body)
}

func contentType(body string) string {
	if body == "" {
		return ""
	}
	return "application/json"
}
