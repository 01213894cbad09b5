package openapi

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// pathItemsKey is OpenAPI 3.1's components.pathItems, which kin-openapi
// keeps as an unknown field: a path referring to it would otherwise load
// with no operations.
const pathItemsKey = "pathItems"

// resolveComponentPathItems replaces every path item that refers to
// components.pathItems with the definition, then resolves the references
// inside the definitions.
func resolveComponentPathItems(loader *openapi3.Loader, doc *openapi3.T) error {
	if doc.Components == nil {
		return nil
	}
	raw, ok := doc.Components.Extensions[pathItemsKey].(map[string]any)
	if !ok {
		return nil
	}
	defs := make(map[string]*openapi3.PathItem, len(raw))
	for name, def := range raw {
		encoded, err := json.Marshal(def)
		if err != nil {
			return fmt.Errorf("encode components.pathItems %s: %w", name, err)
		}
		item := &openapi3.PathItem{}
		if err := json.Unmarshal(encoded, item); err != nil {
			return fmt.Errorf("decode components.pathItems %s: %w", name, err)
		}
		defs[name] = item
	}
	replaced := false
	replace := func(item *openapi3.PathItem) *openapi3.PathItem {
		name, ok := strings.CutPrefix(item.Ref, "#/components/pathItems/")
		if !ok {
			return item
		}
		def, ok := defs[unescapeToken(name)]
		if !ok {
			return item
		}
		replaced = true
		return def
	}
	if doc.Paths != nil {
		for path, item := range doc.Paths.Map() {
			if item != nil {
				doc.Paths.Set(path, replace(item))
			}
		}
	}
	for name, item := range doc.Webhooks {
		if item != nil {
			doc.Webhooks[name] = replace(item)
		}
	}
	delete(doc.Components.Extensions, pathItemsKey)
	if !replaced {
		return nil
	}
	if err := loader.ResolveRefsIn(doc, nil); err != nil {
		return fmt.Errorf("resolve components.pathItems: %w", err)
	}
	return nil
}

// openAPI31Warnings reports the 3.1 constructs the catalogue does not carry.
func openAPI31Warnings(doc *openapi3.T) []Problem {
	var out []Problem
	for _, name := range sortedKeys(doc.Webhooks) {
		n := 0
		if item := doc.Webhooks[name]; item != nil {
			n = len(sortedMethods(item))
		}
		out = append(out, Problem{
			Code: CodeUnsupportedFeature,
			Message: fmt.Sprintf("webhook %q (%d operations) is not part of the catalogue: webhooks are requests the API sends, not operations APIQ can call",
				name, n),
			Pointer: pointerJoin("/webhooks", name),
		})
	}
	if d := doc.JSONSchemaDialect; d != "" && !isDefaultDialect(d) {
		out = append(out, Problem{
			Code:    CodeUnsupportedFeature,
			Message: fmt.Sprintf("jsonSchemaDialect %q is not supported: schemas are read as JSON Schema 2020-12", d),
			Pointer: "/jsonSchemaDialect",
		})
	}
	return out
}

// isDefaultDialect reports whether a $schema/jsonSchemaDialect URI names the
// dialect OpenAPI 3.1 uses by default (JSON Schema 2020-12 or the OAS base).
func isDefaultDialect(uri string) bool {
	u := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(uri, "https://"), "http://"), "#")
	return u == "json-schema.org/draft/2020-12/schema" || strings.HasPrefix(u, "spec.openapis.org/oas/3.1/dialect/")
}
