package plan_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// catalogueJSON is a small two-connection catalogue in the shape
// adapters/openapi produces.
const catalogueJSON = `{
 "movies": [
  {"method": "GET", "path": "/search/movie", "operation_id": "search_movie", "summary": "Search movies", "side_effect": "read",
   "parameters": [
    {"name": "query", "in": "query", "required": true, "schema": {"type": "string"}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "format": "int32"}},
    {"name": "include_adult", "in": "query", "schema": {"type": "boolean"}},
    {"name": "api_key", "in": "header", "schema": {"type": "string"}}],
   "responses": [{"status": "200", "content_types": ["application/json"], "schema": {"type": "object", "properties": {
     "page": {"type": "integer"},
     "total_results": {"type": "integer"},
     "results": {"type": "array", "items": {"type": "object", "properties": {
       "id": {"type": "integer"}, "title": {"type": "string"}, "release_date": {"type": "string", "format": "date"}}}}}}},
    {"status": "401"}]},
  {"method": "GET", "path": "/movie/{movie_id}", "operation_id": "movie_details", "summary": "Movie details", "side_effect": "read",
   "parameters": [
    {"name": "movie_id", "in": "path", "required": true, "schema": {"type": "integer"}},
    {"name": "language", "in": "query", "schema": {"type": "string", "enum": ["en-US", "de-DE"]}},
    {"name": "X-Trace", "in": "header", "schema": {"type": "string", "format": "uuid"}}],
   "responses": [{"status": "200", "content_types": ["application/json"], "schema": {"anyOf": [
     {"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
       "genres": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}}},
     {"type": "object", "properties": {"status_message": {"type": "string"}}}]}}]},
  {"method": "POST", "path": "/movie/{movie_id}/rating", "operation_id": "rate_movie", "summary": "Rate a movie", "side_effect": "write",
   "parameters": [{"name": "movie_id", "in": "path", "required": true, "schema": {"type": "integer"}}],
   "request_body": {"required": true, "content_types": ["application/json"], "content_type": "application/json",
    "schema": {"type": "object", "required": ["value"], "additionalProperties": false,
     "properties": {"value": {"type": "number"}, "comment": {"type": "string"}}}},
   "responses": [{"status": "201", "content_types": ["application/json"], "schema": {"type": "object",
     "properties": {"status_code": {"type": "integer"}}}}]},
  {"method": "DELETE", "path": "/movie/{movie_id}/rating", "operation_id": "delete_rating", "summary": "Delete a rating", "side_effect": "destructive",
   "parameters": [{"name": "movie_id", "in": "path", "required": true, "schema": {"type": "integer"}}],
   "responses": [{"status": "204"}]},
  {"method": "GET", "path": "/raw", "operation_id": "raw", "side_effect": "read",
   "responses": [{"status": "200", "content_types": ["application/json"], "schema": {"type": "object"}}]},
  {"method": "GET", "path": "/genres", "operation_id": "list_genres", "side_effect": "read",
   "responses": [{"status": "200", "content_types": ["application/json"], "schema": {"type": "object", "properties": {
     "genres": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}}}}]}
 ],
 "crm": [
  {"method": "POST", "path": "/contacts", "operation_id": "create_contact", "summary": "Create a contact", "side_effect": "write",
   "request_body": {"required": true, "content_types": ["application/json"], "content_type": "application/json",
    "schema": {"type": "object", "required": ["email"], "properties": {
     "email": {"type": "string", "format": "email"},
     "kind": {"type": "string", "enum": ["person", "company"]},
     "tags": {"type": "array", "items": {"type": "string"}},
     "created": {"type": "string", "format": "date-time"},
     "address": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"city": {"type": "string"}}}]}}}},
   "responses": [{"status": "201", "content_types": ["application/json"], "schema": {"type": "object",
     "properties": {"id": {"type": "string"}}}}]}
 ]
}`

// testCatalogue decodes catalogueJSON.
func testCatalogue(t testing.TB) plan.Operations {
	t.Helper()
	var byConnection map[string][]openapi.Operation
	require.NoError(t, json.Unmarshal([]byte(catalogueJSON), &byConnection))
	ops := plan.Operations{}
	for conn, list := range byConnection {
		ops.Add(conn, list...)
	}
	return ops
}

// decodePlan decodes a plan written as JSON.
func decodePlan(t testing.TB, s string) plan.Plan {
	t.Helper()
	var p plan.Plan
	require.NoError(t, json.Unmarshal([]byte(s), &p), s)
	return p
}
