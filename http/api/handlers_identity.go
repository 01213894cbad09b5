package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/auth"
)

func (s *server) login(c *gin.Context) {
	var in Login
	if !decode(c, &in) {
		return
	}
	token, err := s.deps.Sessions.Login(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{
		"access_token": token.Token,
		"token_type":   "Bearer",
		"expires_in":   int64(token.ExpiresIn / time.Second),
	})
}

func (s *server) me(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	user, err := s.deps.UserQueries.GetUser(c.Request.Context(), p.TenantID, p.UserID)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := gin.H{"user": user, "tenant_id": p.TenantID, "auth_method": p.AuthMethod}
	if p.TokenID != "" {
		body["token_id"] = p.TokenID
	}
	c.JSON(http.StatusOK, body)
}

func (s *server) listUsers(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	users, next, err := s.deps.UserQueries.ListUsers(c.Request.Context(), p.TenantID, Page{Limit: limit, After: c.Query("after")})
	if err != nil {
		s.fail(c, err)
		return
	}
	if users == nil {
		users = []User{}
	}
	body := gin.H{"users": users}
	if next != "" {
		body["next"] = next
	}
	c.JSON(http.StatusOK, body)
}

func (s *server) getUser(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	user, err := s.deps.UserQueries.GetUser(c.Request.Context(), p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, user)
}

func (s *server) createUser(c *gin.Context) {
	var in NewUser
	if !decode(c, &in) {
		return
	}
	id, pos, err := s.deps.UserCommands.CreateUser(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": id, "position": pos.String()})
}

func (s *server) updateUser(c *gin.Context) {
	var in UserChanges
	if !decode(c, &in) {
		return
	}
	pos, err := s.deps.UserCommands.UpdateUser(c.Request.Context(), s.metadata(c), c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) deleteUser(c *gin.Context) {
	pos, err := s.deps.UserCommands.DeleteUser(c.Request.Context(), s.metadata(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) createToken(c *gin.Context) {
	var in NewToken
	if !decode(c, &in) {
		return
	}
	token, err := s.deps.TokenCommands.IssueToken(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The secret must not linger in caches.
	c.Header("Cache-Control", "no-store")
	body := gin.H{"id": token.ID, "token": token.Secret, "position": token.Position.String()}
	if token.ExpiresAt != nil {
		body["expires_at"] = token.ExpiresAt.UTC()
	}
	c.JSON(http.StatusCreated, body)
}

func (s *server) revokeToken(c *gin.Context) {
	pos, err := s.deps.TokenCommands.RevokeToken(c.Request.Context(), s.metadata(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}
