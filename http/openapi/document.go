// Package openapi holds APIQ's own OpenAPI 3 document, validates requests
// against it with kin-openapi's openapi3filter, and renders its reference page.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var documentYAML []byte

// Document is the loaded, validated API description.
type Document struct {
	spec *openapi3.T
	json []byte
}

// Load parses and validates the embedded document.
func Load(ctx context.Context) (*Document, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(documentYAML)
	if err != nil {
		return nil, fmt.Errorf("load openapi document: %w", err)
	}
	if err := spec.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate openapi document: %w", err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return &Document{spec: spec, json: raw}, nil
}

// Spec returns the parsed document; callers must not modify it.
func (d *Document) Spec() *openapi3.T { return d.spec }

// JSON returns the document encoded as JSON, as served at /openapi.json.
func (d *Document) JSON() []byte { return d.json }

// Operation names one method on one path of the document, in OpenAPI
// template syntax ("/v1/users/{id}").
type Operation struct {
	Method string
	Path   string
}

// Operations lists every operation the document declares.
func (d *Document) Operations() []Operation {
	var ops []Operation
	for path, item := range d.spec.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, Operation{Method: strings.ToUpper(method), Path: path})
		}
	}
	return ops
}

// GinPathToOpenAPI converts a gin route pattern ("/v1/users/:id") to the
// document's template syntax ("/v1/users/{id}").
func GinPathToOpenAPI(path string) string {
	segments := strings.Split(path, "/")
	for i, s := range segments {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			segments[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segments, "/")
}
