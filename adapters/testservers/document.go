package testservers

import (
	"encoding/json"
	"fmt"
)

// serveDocument returns raw, an OpenAPI document in JSON, with its servers
// replaced by baseURL and its security schemes passed through edit (when not
// nil), so the document a test imports points at the server it started.
func serveDocument(raw []byte, baseURL string, edit func(schemes map[string]any)) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	doc["servers"] = []any{map[string]any{"url": baseURL}}
	if edit != nil {
		components, _ := doc["components"].(map[string]any)
		schemes, _ := components["securitySchemes"].(map[string]any)
		if schemes == nil {
			return nil, fmt.Errorf("openapi document has no components.securitySchemes")
		}
		edit(schemes)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return out, nil
}
