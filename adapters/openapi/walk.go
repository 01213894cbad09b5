package openapi

import (
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// schemaVisitor receives each schema reference held by a non-schema object
// (component, parameter, header, media type) with the pointer where it is written.
type schemaVisitor func(ref *openapi3.SchemaRef, pointer string)

// documentWalker visits the schema entry points of a document: components
// first, so that a shared schema is first met where it is defined, then
// paths and webhooks. Objects reached through a $ref are not walked again at
// the referring site: their definition is walked where it lives.
type documentWalker struct {
	visit     schemaVisitor
	pathItems map[*openapi3.PathItem]bool
}

// walkSchemaEntries calls visit for every schema entry point of doc.
func walkSchemaEntries(doc *openapi3.T, visit schemaVisitor) {
	w := &documentWalker{visit: visit, pathItems: map[*openapi3.PathItem]bool{}}
	if c := doc.Components; c != nil {
		for _, name := range sortedKeys(c.Schemas) {
			if ref := c.Schemas[name]; ref != nil {
				visit(ref, pointerJoin("/components/schemas", name))
			}
		}
		for _, name := range sortedKeys(c.Parameters) {
			if ref := c.Parameters[name]; ref != nil && ref.Ref == "" {
				w.parameter(ref.Value, pointerJoin("/components/parameters", name))
			}
		}
		for _, name := range sortedKeys(c.Headers) {
			if ref := c.Headers[name]; ref != nil && ref.Ref == "" && ref.Value != nil {
				w.parameter(&ref.Value.Parameter, pointerJoin("/components/headers", name))
			}
		}
		for _, name := range sortedKeys(c.RequestBodies) {
			if ref := c.RequestBodies[name]; ref != nil && ref.Ref == "" && ref.Value != nil {
				w.content(ref.Value.Content, pointerJoin("/components/requestBodies", name, "content"))
			}
		}
		for _, name := range sortedKeys(c.Responses) {
			if ref := c.Responses[name]; ref != nil && ref.Ref == "" {
				w.response(ref.Value, pointerJoin("/components/responses", name))
			}
		}
		for _, name := range sortedKeys(c.Callbacks) {
			if ref := c.Callbacks[name]; ref != nil && ref.Ref == "" {
				w.callback(ref.Value, pointerJoin("/components/callbacks", name))
			}
		}
	}
	if doc.Paths != nil {
		paths := doc.Paths.Map()
		for _, path := range sortedKeys(paths) {
			w.pathItem(paths[path], pointerJoin("/paths", path))
		}
	}
	for _, name := range sortedKeys(doc.Webhooks) {
		w.pathItem(doc.Webhooks[name], pointerJoin("/webhooks", name))
	}
}

func (w *documentWalker) pathItem(item *openapi3.PathItem, pointer string) {
	if item == nil || w.pathItems[item] {
		return
	}
	w.pathItems[item] = true
	w.parameters(item.Parameters, pointer+"/parameters")
	for _, method := range sortedMethods(item) {
		op := item.GetOperation(method)
		opPointer := pointerJoin(pointer, strings.ToLower(method))
		w.parameters(op.Parameters, opPointer+"/parameters")
		if rb := op.RequestBody; rb != nil && rb.Ref == "" && rb.Value != nil {
			w.content(rb.Value.Content, opPointer+"/requestBody/content")
		}
		if op.Responses != nil {
			responses := op.Responses.Map()
			for _, status := range sortedKeys(responses) {
				if ref := responses[status]; ref != nil && ref.Ref == "" {
					w.response(ref.Value, pointerJoin(opPointer, "responses", status))
				}
			}
		}
		for _, name := range sortedKeys(op.Callbacks) {
			if ref := op.Callbacks[name]; ref != nil && ref.Ref == "" {
				w.callback(ref.Value, pointerJoin(opPointer, "callbacks", name))
			}
		}
	}
}

func (w *documentWalker) parameters(params openapi3.Parameters, pointer string) {
	for i, ref := range params {
		if ref != nil && ref.Ref == "" {
			w.parameter(ref.Value, pointerJoin(pointer, strconv.Itoa(i)))
		}
	}
}

func (w *documentWalker) parameter(p *openapi3.Parameter, pointer string) {
	if p == nil {
		return
	}
	if p.Schema != nil {
		w.visit(p.Schema, pointer+"/schema")
	}
	w.content(p.Content, pointer+"/content")
}

func (w *documentWalker) response(r *openapi3.Response, pointer string) {
	if r == nil {
		return
	}
	w.headers(r.Headers, pointer+"/headers")
	w.content(r.Content, pointer+"/content")
}

func (w *documentWalker) headers(headers openapi3.Headers, pointer string) {
	for _, name := range sortedKeys(headers) {
		if ref := headers[name]; ref != nil && ref.Ref == "" && ref.Value != nil {
			w.parameter(&ref.Value.Parameter, pointerJoin(pointer, name))
		}
	}
}

func (w *documentWalker) content(content openapi3.Content, pointer string) {
	for _, mediaType := range sortedKeys(content) {
		mt := content[mediaType]
		if mt == nil {
			continue
		}
		mtPointer := pointerJoin(pointer, mediaType)
		if mt.Schema != nil {
			w.visit(mt.Schema, mtPointer+"/schema")
		}
		if mt.ItemSchema != nil {
			w.visit(mt.ItemSchema, mtPointer+"/itemSchema")
		}
		for _, name := range sortedKeys(mt.Encoding) {
			if enc := mt.Encoding[name]; enc != nil {
				w.headers(enc.Headers, pointerJoin(mtPointer, "encoding", name, "headers"))
			}
		}
	}
}

func (w *documentWalker) callback(cb *openapi3.Callback, pointer string) {
	if cb == nil {
		return
	}
	items := cb.Map()
	for _, expr := range sortedKeys(items) {
		w.pathItem(items[expr], pointerJoin(pointer, expr))
	}
}

// methodOrder is the order operations of one path are listed in.
var methodOrder = []string{"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE", "CONNECT"}

// sortedMethods returns the methods item defines, in methodOrder.
func sortedMethods(item *openapi3.PathItem) []string {
	var methods []string
	for _, m := range methodOrder {
		if item.GetOperation(m) != nil {
			methods = append(methods, m)
		}
	}
	return methods
}

// sortedKeys returns a map's keys in order, for deterministic walks.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
