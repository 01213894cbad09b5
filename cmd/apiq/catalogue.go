package main

import (
	"context"

	"github.com/apiq/apiq/http/api"
	"github.com/apiq/apiq/projections"
)

// catalogueDB is what the catalogue reads through: the pool.
type catalogueDB interface {
	projections.QueryDB
	projections.SearchDB
}

// catalogueAPI adapts the catalogue read model and its search to the HTTP
// layer's interface (api.CatalogueQueries).
type catalogueAPI struct {
	db catalogueDB
}

var _ api.CatalogueQueries = catalogueAPI{}

// ListEndpoints implements api.CatalogueQueries.
func (a catalogueAPI) ListEndpoints(ctx context.Context, tenantID, connectionID string, f api.EndpointFilter) ([]api.Endpoint, string, error) {
	page, err := projections.ListEndpoints(ctx, a.db, tenantID, connectionID, projections.ListEndpointsOptions{
		Query: f.Query, Method: f.Method, Tag: f.Tag, SideEffect: f.SideEffect, Deprecated: f.Deprecated,
		Limit: f.Limit, After: f.After,
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Endpoint, len(page.Endpoints))
	for i, e := range page.Endpoints {
		out[i] = api.Endpoint{
			ConnectionID: e.ConnectionID, OperationID: e.OperationID, Method: e.Method, Path: e.Path,
			Summary: e.Summary, Description: e.Description, Tags: e.Tags, Parameters: e.Parameters,
			RequestBody: e.RequestBody, Responses: e.Responses, Security: e.Security, Deprecated: e.Deprecated,
			SideEffect: e.SideEffect, Produces: e.Produces, Needs: e.Needs,
		}
	}
	return out, page.Next, nil
}

// SearchEndpoints implements api.CatalogueQueries.
func (a catalogueAPI) SearchEndpoints(ctx context.Context, tenantID, query string, limit, offset int) ([]api.EndpointHit, error) {
	hits, err := projections.SearchEndpoints(ctx, a.db, tenantID, query, projections.SearchOptions{Limit: limit, Offset: offset})
	if err != nil {
		return nil, err
	}
	out := make([]api.EndpointHit, len(hits))
	for i, h := range hits {
		out[i] = api.EndpointHit{
			ConnectionID: h.ConnectionID, ConnectionName: h.ConnectionName, OperationID: h.OperationID,
			Method: h.Method, Path: h.Path, Summary: h.Summary, Score: h.Score, SideEffect: h.SideEffect,
			Deprecated: h.Deprecated, Needs: h.Needs,
		}
		if h.ProvidesFor != nil {
			out[i].ProvidesFor = &api.ProvidedFor{OperationID: h.ProvidesFor.OperationID, Key: h.ProvidesFor.Key}
		}
	}
	return out, nil
}
