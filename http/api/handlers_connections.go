package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/http/apierror"
	"github.com/apiq/apiq/http/auth"
)

// Error codes of the connection routes.
const (
	CodeInvalidDocument            apierror.Code = "invalid_document"
	CodeDocumentFetchFailed        apierror.Code = "document_fetch_failed"
	CodeCredentialsRequired        apierror.Code = "credentials_required"
	CodeBaseURLChangeRequiresAdmin apierror.Code = "base_url_change_requires_admin"
)

// oauthCallbackPath is where providers send users back to.
const oauthCallbackPath = "/v1/oauth/callback"

func (s *server) listConnections(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	list, next, err := s.deps.ConnectionQueries.ListConnections(c.Request.Context(), p.TenantID, Page{Limit: limit, After: c.Query("after")})
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []Connection{}
	}
	body := gin.H{"connections": list}
	if next != "" {
		body["next"] = next
	}
	c.JSON(http.StatusOK, body)
}

func (s *server) getConnection(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	conn, err := s.deps.ConnectionQueries.GetConnection(c.Request.Context(), p.TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conn)
}

func (s *server) createConnection(c *gin.Context) {
	body, ok := s.readDocumentBody(c, "name", "base_url", "document_url", "auth")
	if !ok {
		return
	}
	conn, err := s.deps.ConnectionCommands.RegisterConnection(c.Request.Context(), s.metadata(c), NewConnection{
		Name: body.Name, BaseURL: body.BaseURL, Auth: body.Auth,
		Document: DocumentInput{Text: body.text, URL: body.DocumentURL},
	})
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusCreated, conn)
}

func (s *server) updateConnection(c *gin.Context) {
	var in ConnectionChanges
	if !decode(c, &in) {
		return
	}
	conn, err := s.deps.ConnectionCommands.UpdateConnection(c.Request.Context(), s.metadata(c), c.Param("id"), in)
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, conn)
}

func (s *server) reimportDocument(c *gin.Context) {
	body, ok := s.readDocumentBody(c, "document_url")
	if !ok {
		return
	}
	conn, err := s.deps.ConnectionCommands.ReimportDocument(c.Request.Context(), s.metadata(c), c.Param("id"),
		DocumentInput{Text: body.text, URL: body.DocumentURL})
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, conn)
}

func (s *server) deleteConnection(c *gin.Context) {
	pos, err := s.deps.ConnectionCommands.DeleteConnection(c.Request.Context(), s.metadata(c), c.Param("id"))
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, commandResult{Position: pos.String()})
}

func (s *server) disableConnection(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decodeOptional(c, &in) {
		return
	}
	conn, err := s.deps.ConnectionCommands.DisableConnection(c.Request.Context(), s.metadata(c), c.Param("id"), in.Reason)
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, conn)
}

func (s *server) enableConnection(c *gin.Context) {
	conn, err := s.deps.ConnectionCommands.EnableConnection(c.Request.Context(), s.metadata(c), c.Param("id"))
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, conn)
}

func (s *server) testConnection(c *gin.Context) {
	var in ConnectionTest
	if !decodeOptional(c, &in) {
		return
	}
	res, err := s.deps.ConnectionCommands.TestConnection(c.Request.Context(), s.metadata(c), c.Param("id"), in)
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *server) startAuthorization(c *gin.Context) {
	u, err := s.deps.ConnectionCommands.StartAuthorization(c.Request.Context(), s.metadata(c), c.Param("id"), s.callbackURL(c))
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"authorize_url": u})
}

func (s *server) completeAuthorization(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	if code := c.Query("error"); code != "" {
		apierror.Abort(c, apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed,
			"the provider refused the authorisation").WithDetails(apierror.DomainDetails{Reason: "oauth_" + code}))
		return
	}
	id, pos, err := s.deps.ConnectionCommands.CompleteAuthorization(c.Request.Context(), s.metadata(c), c.Query("state"), c.Query("code"))
	if err != nil {
		s.failConnection(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"connection_id": id, "status": "authorized", "position": pos.String()})
}

// callbackURL is APIQ's OAuth callback: under PublicURL when configured,
// else on the host the request came to.
func (s *server) callbackURL(c *gin.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL + oauthCallbackPath
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host + oauthCallbackPath
}

// failConnection maps the connection commands' errors that need more than
// their domain kind: import problems (located), fetch failures, and the
// base URL guard's refusals.
func (s *server) failConnection(c *gin.Context, err error) {
	var (
		imp   *openapi.ImportError
		fetch interface{ FetchFailure() (string, int) }
	)
	switch {
	case errors.Is(err, openapi.ErrTooLarge):
		apierror.Abort(c, documentTooLarge(s.cfg.MaxDocumentBytes).Wrap(err))
	case errors.As(err, &imp):
		apierror.Abort(c, apierror.New(http.StatusUnprocessableEntity, CodeInvalidDocument,
			"the OpenAPI document cannot be imported: "+imp.Message).WithDetails(importDetails(imp)).Wrap(err))
	case errors.As(err, &fetch):
		reason, status := fetch.FetchFailure()
		details := map[string]any{"reason": reason}
		if status != 0 {
			details["status"] = status
		}
		apierror.Abort(c, apierror.New(http.StatusUnprocessableEntity, CodeDocumentFetchFailed,
			fmt.Sprintf("document_url could not be fetched (%s)", reason)).WithDetails(details).Wrap(err))
	case errors.Is(err, connection.ErrCredentialsRequired):
		apierror.Abort(c, apierror.New(http.StatusUnprocessableEntity, CodeCredentialsRequired,
			connection.ErrCredentialsRequired.Message).WithDetails(apierror.DomainDetails{
			Reason: connection.ErrCredentialsRequired.Code, Field: "auth"}).Wrap(err))
	case errors.Is(err, connection.ErrBaseURLChangeNeedsAdmin):
		apierror.Abort(c, apierror.New(http.StatusForbidden, CodeBaseURLChangeRequiresAdmin,
			connection.ErrBaseURLChangeNeedsAdmin.Message).WithDetails(apierror.DomainDetails{
			Reason: connection.ErrBaseURLChangeNeedsAdmin.Code, Field: "base_url"}).Wrap(err))
	default:
		s.fail(c, err)
	}
}

// importProblem is where and why a document failed to import.
type importProblem struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Pointer string `json:"pointer"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// importDetails lists the import error's first problem, located, and the others.
func importDetails(e *openapi.ImportError) map[string]any {
	details := map[string]any{
		"reason": e.Code, "message": e.Message, "pointer": e.Pointer,
	}
	if e.Line > 0 {
		details["line"], details["column"] = e.Line, e.Column
	}
	if len(e.Others) > 0 {
		others := make([]importProblem, len(e.Others))
		for i, p := range e.Others {
			others[i] = importProblem{Reason: string(p.Code), Message: p.Message, Pointer: p.Pointer, Line: p.Line, Column: p.Column}
		}
		details["others"] = others
	}
	return details
}
