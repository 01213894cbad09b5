// Package openapitest generates OpenAPI documents for the tests and
// benchmarks of several packages.
package openapitest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SyntheticDocument generates an OpenAPI 3.0 document in the size class of
// GitHub's REST description: resources × 4 operations (list, create, get,
// delete), each resource a component schema of many described properties
// that refers to other resources, as real documents do. 250 resources give
// 1,000 operations and about 13 MB of JSON.
func SyntheticDocument(resources int) []byte {
	paths := map[string]any{}
	schemas := map[string]any{}
	for r := 0; r < resources; r++ {
		name := fmt.Sprintf("resource%d", r)
		idParam := name + "_id"
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		listRef := map[string]any{"$ref": "#/components/schemas/" + name + "_list"}
		errorResponse := map[string]any{
			"description": "Error",
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/error"},
			}},
		}
		paths["/"+name+"s"] = map[string]any{
			"get": map[string]any{
				"operationId": "list_" + name + "s",
				"summary":     "List " + name + "s",
				"description": prose(r, 1500),
				"tags":        []string{fmt.Sprintf("group%d", r%20)},
				"parameters": []any{
					map[string]any{"name": "per_page", "in": "query", "description": prose(r+1, 200), "schema": map[string]any{"type": "integer", "maximum": 100}},
					map[string]any{"name": "page", "in": "query", "description": prose(r+2, 200), "schema": map[string]any{"type": "integer"}},
					map[string]any{"name": "sort", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"created", "updated", "name"}}},
				},
				"responses": map[string]any{
					"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{
						"schema": listRef, "example": exampleList(r),
					}}},
					"default": errorResponse,
				},
			},
			"post": map[string]any{
				"operationId": "create_" + name,
				"summary":     "Create a " + name,
				"description": prose(r+3, 1500),
				"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref}}},
				"responses": map[string]any{
					"201":     map[string]any{"description": "Created", "content": map[string]any{"application/json": map[string]any{"schema": ref}}},
					"default": errorResponse,
				},
			},
		}
		paths["/"+name+"s/{"+idParam+"}"] = map[string]any{
			"parameters": []any{map[string]any{"name": idParam, "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
			"get": map[string]any{
				"operationId": "get_" + name,
				"summary":     "Get a " + name,
				"description": prose(r+4, 1500),
				"responses": map[string]any{
					"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{
						"schema": ref, "example": exampleList(r)["data"].([]any)[0],
					}}},
					"default": errorResponse,
				},
			},
			"delete": map[string]any{
				"operationId": "delete_" + name,
				"summary":     "Delete a " + name,
				"responses":   map[string]any{"204": map[string]any{"description": "Deleted"}, "default": errorResponse},
			},
		}
		schemas[name] = resourceSchema(r, resources)
		schemas[name+"_list"] = map[string]any{
			"type":     "object",
			"required": []string{"data", "has_more"},
			"properties": map[string]any{
				"data":     map[string]any{"type": "array", "items": ref},
				"has_more": map[string]any{"type": "boolean"},
				"url":      map[string]any{"type": "string"},
			},
		}
	}
	schemas["error"] = map[string]any{
		"type":       "object",
		"properties": map[string]any{"message": map[string]any{"type": "string"}, "code": map[string]any{"type": "integer"}},
	}
	doc := map[string]any{
		"openapi":    "3.0.3",
		"info":       map[string]any{"title": "Synthetic", "version": "1.0.0"},
		"servers":    []any{map[string]any{"url": "https://api.example.com"}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"token": map[string]any{"type": "http", "scheme": "bearer"}}},
		"security":   []any{map[string]any{"token": []string{}}},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return data
}

// resourceSchema is one resource: described scalar properties, a nested
// object, and expandable references to two other resources.
func resourceSchema(r, resources int) map[string]any {
	props := map[string]any{
		"id":         map[string]any{"type": "string", "readOnly": true},
		"created_at": map[string]any{"type": "string", "format": "date-time"},
		"owner": map[string]any{"anyOf": []any{
			map[string]any{"type": "string"},
			map[string]any{"$ref": fmt.Sprintf("#/components/schemas/resource%d", (r+1)%resources)},
		}},
		"parent": map[string]any{"nullable": true, "allOf": []any{
			map[string]any{"$ref": fmt.Sprintf("#/components/schemas/resource%d", (r+7)%resources)},
		}},
		"settings": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"visibility": map[string]any{"type": "string", "enum": []string{"public", "private", "internal"}},
				"labels":     map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			},
		},
	}
	for p := 0; p < 80; p++ {
		kind := []string{"string", "integer", "boolean", "number"}[p%4]
		props[fmt.Sprintf("field_%d", p)] = map[string]any{
			"type":        kind,
			"description": prose(r*81+p, 500),
		}
	}
	return map[string]any{"type": "object", "required": []string{"id", "created_at"}, "properties": props, "description": prose(r, 400)}
}

// exampleList is a response example of a few resources, as real documents carry.
func exampleList(r int) map[string]any {
	var items []any
	for i := 0; i < 3; i++ {
		item := map[string]any{"id": fmt.Sprintf("res_%d_%d", r, i), "created_at": "2024-01-01T00:00:00Z"}
		for p := 0; p < 20; p++ {
			item[fmt.Sprintf("field_%d", p*4)] = prose(r+i+p, 24)
		}
		items = append(items, item)
	}
	return map[string]any{"data": items, "has_more": false, "url": "/resources"}
}

// prose returns n bytes of varied filler text.
func prose(seed, n int) string {
	words := []string{"the", "resource", "returns", "a", "paginated", "list", "of", "items", "that", "belong",
		"to", "account", "when", "request", "includes", "filter", "values", "sorted", "by", "creation", "time"}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(words[(seed*7+i*3)%len(words)])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}
