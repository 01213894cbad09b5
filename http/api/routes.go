package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/auth"
)

// route is one entry of the route table: the access policy of every route
// is declared here, next to its handler, and nowhere else.
type route struct {
	method  string
	path    string // gin syntax
	access  auth.Access
	handler gin.HandlerFunc
}

func (s *server) routes() []route {
	admin := auth.Roles(auth.RoleAdmin)
	manage := auth.Roles(auth.RoleUser, auth.RoleAdmin)
	auditor := auth.Roles(auth.RoleAuditor, auth.RoleAdmin)
	return []route{
		{http.MethodGet, "/healthz", auth.Public(), s.healthz},
		{http.MethodGet, "/readyz", auth.Public(), s.readyz},
		{http.MethodGet, "/metrics", auth.Public(), s.metrics},
		{http.MethodGet, "/openapi.json", auth.Public(), s.openapiDocument},
		{http.MethodGet, "/docs", auth.Public(), s.apiReference},

		{http.MethodPost, "/v1/auth/login", auth.Public(), s.login},
		// Browser sessions and single sign-on: the provider id names the
		// tenant, so start and callback are public.
		{http.MethodPost, "/v1/auth/session", auth.Public(), s.createSession},
		{http.MethodPost, "/v1/auth/logout", auth.AnyRole(), s.logout},
		{http.MethodGet, "/v1/auth/sso/providers", auth.Public(), s.listLoginProviders},
		{http.MethodGet, "/v1/auth/sso/:provider/start", auth.Public(), s.startSSO},
		{http.MethodGet, "/v1/auth/sso/:provider/callback", auth.Public(), s.completeSSO},
		{http.MethodGet, "/v1/sso/providers", admin, s.listSSOProviders},
		{http.MethodPost, "/v1/sso/providers", admin, s.createSSOProvider},
		{http.MethodDelete, "/v1/sso/providers/:id", admin, s.deleteSSOProvider},
		{http.MethodGet, "/v1/me", auth.AnyRole(), s.me},
		// The second factor: a token restricted to enrolling (a password
		// login in a tenant that requires TOTP) passes only the first two.
		{http.MethodPost, "/v1/me/totp", auth.AnyRole().DuringEnrollment(), s.startTOTP},
		{http.MethodPost, "/v1/me/totp/confirm", auth.AnyRole().DuringEnrollment(), s.confirmTOTP},
		{http.MethodDelete, "/v1/me/totp", auth.AnyRole(), s.disableTOTP},
		{http.MethodGet, "/v1/tenant/security", auth.AnyRole(), s.tenantSecurity},
		{http.MethodPut, "/v1/tenant/security", admin, s.setTenantSecurity},

		{http.MethodGet, "/v1/users", admin, s.listUsers},
		{http.MethodPost, "/v1/users", admin, s.createUser},
		{http.MethodGet, "/v1/users/:id", admin, s.getUser},
		{http.MethodPatch, "/v1/users/:id", admin, s.updateUser},
		{http.MethodDelete, "/v1/users/:id", admin, s.deleteUser},
		{http.MethodDelete, "/v1/users/:id/totp", admin, s.resetTOTP},

		{http.MethodGet, "/v1/tokens", admin, s.listTokens},
		{http.MethodPost, "/v1/tokens", admin, s.createToken},
		{http.MethodDelete, "/v1/tokens/:id", admin, s.revokeToken},
		{http.MethodGet, "/v1/keys", admin, s.keyStatus},

		// Connections: USER and ADMIN manage them, AUDITOR reads; moving
		// one with stored credentials to another host is ADMIN-only (the
		// connection's own rule, checked by the command).
		{http.MethodGet, "/v1/connections", auth.AnyRole(), s.listConnections},
		{http.MethodPost, "/v1/connections", manage, s.createConnection},
		{http.MethodGet, "/v1/connections/:id", auth.AnyRole(), s.getConnection},
		{http.MethodPatch, "/v1/connections/:id", manage, s.updateConnection},
		{http.MethodDelete, "/v1/connections/:id", manage, s.deleteConnection},
		{http.MethodPut, "/v1/connections/:id/document", manage, s.reimportDocument},
		{http.MethodPost, "/v1/connections/:id/test", manage, s.testConnection},
		{http.MethodPost, "/v1/connections/:id/disable", manage, s.disableConnection},
		{http.MethodPost, "/v1/connections/:id/enable", manage, s.enableConnection},
		{http.MethodGet, "/v1/connections/:id/oauth/start", manage, s.startAuthorization},
		{http.MethodGet, oauthCallbackPath, auth.Public(), s.completeAuthorization},

		// The endpoint catalogue: every role reads it.
		{http.MethodGet, "/v1/connections/:id/endpoints", auth.AnyRole(), s.listEndpoints},
		{http.MethodGet, "/v1/endpoints/search", auth.AnyRole(), s.searchEndpoints},

		// Plans: USER and ADMIN ask for, revise, confirm and reject them,
		// AUDITOR reads; an ADMIN sets the tenant's plan settings (and, when
		// they say so, confirms others' destructive plans: the plan's rule,
		// checked by the command).
		{http.MethodGet, "/v1/plans", auth.AnyRole(), s.listPlans},
		{http.MethodPost, "/v1/plans", manage, s.createPlan},
		{http.MethodGet, "/v1/plans/usage", auth.AnyRole(), s.planUsage},
		{http.MethodGet, "/v1/plans/settings", auth.AnyRole(), s.planSettings},
		{http.MethodPut, "/v1/plans/settings", admin, s.setPlanSettings},
		{http.MethodGet, "/v1/plans/:id", auth.AnyRole(), s.getPlan},
		{http.MethodPost, "/v1/plans/:id/confirm", manage, s.confirmPlan},
		{http.MethodPost, "/v1/plans/:id/reject", manage, s.rejectPlan},
		{http.MethodPost, "/v1/plans/:id/revise", manage, s.revisePlan},

		// Executions: USER and ADMIN run and cancel them, AUDITOR reads.
		{http.MethodGet, "/v1/executions", auth.AnyRole(), s.listExecutions},
		{http.MethodPost, "/v1/executions", manage, s.startExecution},
		{http.MethodGet, "/v1/executions/:id", auth.AnyRole(), s.getExecution},
		{http.MethodGet, "/v1/executions/:id/events", auth.AnyRole(), s.executionEvents},
		{http.MethodPost, "/v1/executions/:id/cancel", manage, s.cancelExecution},

		// The audit trail: AUDITOR and ADMIN, never USER; every read is
		// itself recorded.
		{http.MethodGet, "/v1/audit/events", auditor, s.listAuditEvents},
		{http.MethodGet, "/v1/audit/export", auditor, s.exportAuditEvents},
		{http.MethodGet, "/v1/audit/streams/:stream", auditor, s.replayAuditStream},
		{http.MethodGet, "/v1/audit/executions/:id/timeline", auditor, s.executionTimeline},
		{http.MethodGet, "/v1/audit/verify", auditor, s.verifyAuditChain},
		{http.MethodGet, "/v1/audit/heads", auditor, s.auditHeads},
	}
}

// documentRoutes take an OpenAPI document and so a larger body.
var documentRoutes = map[string]bool{
	http.MethodPost + " /v1/connections":             true,
	http.MethodPut + " /v1/connections/:id/document": true,
}
