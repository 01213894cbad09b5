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
	return []route{
		{http.MethodGet, "/healthz", auth.Public(), s.healthz},
		{http.MethodGet, "/readyz", auth.Public(), s.readyz},
		{http.MethodGet, "/metrics", auth.Public(), s.metrics},
		{http.MethodGet, "/openapi.json", auth.Public(), s.openapiDocument},
		{http.MethodGet, "/docs", auth.Public(), s.apiReference},

		{http.MethodPost, "/v1/auth/login", auth.Public(), s.login},
		{http.MethodGet, "/v1/me", auth.AnyRole(), s.me},

		{http.MethodGet, "/v1/users", admin, s.listUsers},
		{http.MethodPost, "/v1/users", admin, s.createUser},
		{http.MethodGet, "/v1/users/:id", admin, s.getUser},
		{http.MethodPatch, "/v1/users/:id", admin, s.updateUser},
		{http.MethodDelete, "/v1/users/:id", admin, s.deleteUser},

		{http.MethodPost, "/v1/tokens", admin, s.createToken},
		{http.MethodDelete, "/v1/tokens/:id", admin, s.revokeToken},
	}
}
