package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/http/auth"
)

// CatalogueQueries reads the endpoint catalogue, scoped to a tenant.
type CatalogueQueries interface {
	// ListEndpoints returns a page of a connection's catalogue and the
	// cursor of the next page ("" on the last); a connection of another
	// tenant is not found.
	ListEndpoints(ctx context.Context, tenantID, connectionID string, filter EndpointFilter) (endpoints []Endpoint, next string, err error)
	// SearchEndpoints ranks the endpoints of the tenant's enabled
	// connections by relevance to a request, best first, returning up to
	// limit hits after skipping offset.
	SearchEndpoints(ctx context.Context, tenantID, query string, limit, offset int) ([]EndpointHit, error)
}

// EndpointFilter selects endpoints of a connection's catalogue; zero
// values do not filter.
type EndpointFilter struct {
	Query      string
	Method     string
	Tag        string
	SideEffect string
	Deprecated *bool
	Page
}

// Endpoint is one operation of a connection's catalogue as the API shows
// it; the schema fields are the JSON the catalogue holds.
type Endpoint struct {
	ConnectionID string          `json:"connection_id"`
	OperationID  string          `json:"operation_id"`
	Method       string          `json:"method"`
	Path         string          `json:"path"`
	Summary      string          `json:"summary"`
	Description  string          `json:"description"`
	Tags         []string        `json:"tags"`
	Parameters   json.RawMessage `json:"parameters"`
	RequestBody  json.RawMessage `json:"request_body"`
	Responses    json.RawMessage `json:"responses"`
	Security     json.RawMessage `json:"security"`
	Deprecated   bool            `json:"deprecated"`
	SideEffect   string          `json:"side_effect"`
	Produces     json.RawMessage `json:"produces"`
	Needs        json.RawMessage `json:"needs"`
}

// EndpointHit is one search result.
type EndpointHit struct {
	ConnectionID   string   `json:"connection_id"`
	ConnectionName string   `json:"connection_name"`
	OperationID    string   `json:"operation_id"`
	Method         string   `json:"method"`
	Path           string   `json:"path"`
	Summary        string   `json:"summary"`
	Score          float64  `json:"score"`
	SideEffect     string   `json:"side_effect"`
	Deprecated     bool     `json:"deprecated"`
	Needs          []string `json:"needs"`
	// ProvidesFor is set on a hit ranked for another one: it produces a
	// value that operation needs (Key), or searches for the names the
	// request mentions (Key "search").
	ProvidesFor *ProvidedFor `json:"provides_for,omitempty"`
}

// ProvidedFor names the hit a linked hit was ranked for.
type ProvidedFor struct {
	OperationID string `json:"operation_id"`
	Key         string `json:"key"`
}

// maxSearchDepth bounds how deep search results can be paged, as the
// catalogue ranks at most that many.
const maxSearchDepth = 200

func (s *server) listEndpoints(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	filter := EndpointFilter{
		Query: c.Query("q"), Method: c.Query("method"), Tag: c.Query("tag"), SideEffect: c.Query("side_effect"),
		Page: Page{After: c.Query("cursor")},
	}
	filter.Limit, _ = strconv.Atoi(c.Query("limit")) // validated against the document
	if raw, ok := c.GetQuery("deprecated"); ok {
		deprecated := raw == "true"
		filter.Deprecated = &deprecated
	}
	endpoints, next, err := s.deps.Catalogue.ListEndpoints(c.Request.Context(), p.TenantID, c.Param("id"), filter)
	if err != nil {
		s.fail(c, err)
		return
	}
	if endpoints == nil {
		endpoints = []Endpoint{}
	}
	body := gin.H{"items": endpoints}
	if next != "" {
		body["next_cursor"] = next
	}
	c.JSON(http.StatusOK, body)
}

func (s *server) searchEndpoints(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "20")) // validated against the document
	offset, err := decodeSearchCursor(c.Query("cursor"))
	if err != nil {
		s.fail(c, err)
		return
	}
	// One hit more than asked says whether there is a next page.
	hits, err := s.deps.Catalogue.SearchEndpoints(c.Request.Context(), p.TenantID, c.Query("q"), limit+1, offset)
	if err != nil {
		s.fail(c, err)
		return
	}
	body := gin.H{}
	if len(hits) > limit && offset+limit < maxSearchDepth {
		hits = hits[:limit]
		body["next_cursor"] = encodeSearchCursor(offset + limit)
	}
	if len(hits) > limit {
		hits = hits[:limit]
	}
	if hits == nil {
		hits = []EndpointHit{}
	}
	body["items"] = hits
	c.JSON(http.StatusOK, body)
}

// Search cursors are the offset of the next page in the ranking.
const searchCursorPrefix = "offset:"

func encodeSearchCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(searchCursorPrefix + strconv.Itoa(offset)))
}

func decodeSearchCursor(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	bad := domain.Invalid("cursor", "invalid_cursor", "the page cursor is not one this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), searchCursorPrefix))
	if err != nil || !strings.HasPrefix(string(raw), searchCursorPrefix) || n < 0 || n >= maxSearchDepth {
		return 0, bad
	}
	return n, nil
}
