package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Operation is one callable endpoint (method + path) of an imported document.
type Operation struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// OperationID is the document's operationId, or a synthesised one (see
	// OperationIDSynthesized); it is unique within the document.
	OperationID            string   `json:"operation_id"`
	OperationIDSynthesized bool     `json:"operation_id_synthesized,omitempty"`
	Summary                string   `json:"summary,omitempty"`
	Description            string   `json:"description,omitempty"`
	Tags                   []string `json:"tags,omitempty"`
	// Parameters merges the path item's and the operation's own, in that order.
	Parameters  []Parameter  `json:"parameters,omitempty"`
	RequestBody *RequestBody `json:"request_body,omitempty"`
	// Responses lists every declared status; only success (2xx) responses carry a schema.
	Responses []Response `json:"responses,omitempty"`
	// Security is the effective requirement: any one alternative suffices;
	// an empty alternative means the operation can be called anonymously.
	// Nil means the document declares no security for it.
	Security   []SecurityAlternative `json:"security,omitempty"`
	Deprecated bool                  `json:"deprecated,omitempty"`
	SideEffect SideEffect            `json:"side_effect"`
	// Produces lists the identifier-like values a success response carries.
	Produces []ProducedValue `json:"produces,omitempty"`
	// Needs lists the identifier-like inputs the operation takes.
	Needs []NeededValue `json:"needs,omitempty"`
}

// Key identifies the operation within its document: "GET /users/{id}".
func (o Operation) Key() string { return o.Method + " " + o.Path }

// Parameter is one path, query, header or cookie parameter.
type Parameter struct {
	Name        string          `json:"name"`
	In          string          `json:"in"`
	Required    bool            `json:"required,omitempty"`
	Deprecated  bool            `json:"deprecated,omitempty"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// RequestBody describes what an operation accepts as its body.
type RequestBody struct {
	Required     bool     `json:"required,omitempty"`
	Description  string   `json:"description,omitempty"`
	ContentTypes []string `json:"content_types"`
	// ContentType is the media type Schema belongs to: JSON when offered,
	// then form encodings, then the first declared.
	ContentType string          `json:"content_type,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// Response describes one declared response status ("200", "2XX", "default").
type Response struct {
	Status       string          `json:"status"`
	Description  string          `json:"description,omitempty"`
	ContentTypes []string        `json:"content_types,omitempty"`
	ContentType  string          `json:"content_type,omitempty"`
	Schema       json.RawMessage `json:"schema,omitempty"`
}

// SecurityAlternative is a set of schemes that must all be satisfied together.
type SecurityAlternative []SchemeRequirement

// SchemeRequirement names a security scheme and the scopes it needs.
type SchemeRequirement struct {
	Scheme string   `json:"scheme"`
	Scopes []string `json:"scopes,omitempty"`
}

// catalogueBuilder turns a loaded document into operations.
type catalogueBuilder struct {
	doc      *openapi3.T
	opts     Options
	conv     *schemaConverter
	produced *producerIndex
	warnings []Problem
}

// buildCatalogue lists the document's operations in path order, methods in
// a fixed order within a path.
func buildCatalogue(ctx context.Context, doc *openapi3.T, opts Options) ([]Operation, []Problem, error) {
	conv := newSchemaConverter(doc, opts)
	b := &catalogueBuilder{doc: doc, opts: opts, conv: conv, produced: newProducerIndex(conv.names)}
	if doc.Paths == nil {
		return nil, nil, nil
	}
	paths := doc.Paths.Map()
	var ops []Operation
	for _, path := range sortedKeys(paths) {
		item := paths[path]
		if item == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("build catalogue: %w", err)
		}
		for _, method := range sortedMethods(item) {
			ops = append(ops, b.operation(path, method, item, item.GetOperation(method)))
		}
	}
	b.assignOperationIDs(ops)
	for i := range ops {
		// After the ids: a synthesised id spells out the path ("..._cancel").
		ops[i].SideEffect = ClassifySideEffect(ops[i].Method, ops[i].OperationID, ops[i].Summary, ops[i].Description)
	}
	return ops, b.warnings, nil
}

// operation describes one operation.
func (b *catalogueBuilder) operation(path, method string, item *openapi3.PathItem, op *openapi3.Operation) Operation {
	pointer := pointerJoin("/paths", path, strings.ToLower(method))
	out := Operation{
		Method:      method,
		Path:        path,
		OperationID: op.OperationID,
		Summary:     firstNonEmpty(op.Summary, item.Summary),
		Description: truncateRunes(firstNonEmpty(op.Description, item.Description), b.opts.MaxDescription),
		Tags:        slices.Clone(op.Tags),
		Deprecated:  op.Deprecated,
	}
	out.Parameters = b.parameters(item.Parameters, op.Parameters)
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		out.RequestBody = b.requestBody(op.RequestBody.Value)
	}
	if op.Responses != nil {
		out.Responses = b.responses(op.Responses)
	}
	out.Security = b.security(op)
	out.Produces = b.produced.producedValues(path, op)
	out.Needs = neededValues(path, out.Parameters, op)
	if len(op.Callbacks) > 0 {
		b.warnings = append(b.warnings, Problem{
			Code:    CodeUnsupportedFeature,
			Message: fmt.Sprintf("the callbacks of %s %s are not part of the catalogue: callbacks are requests the API sends", method, path),
			Pointer: pointer + "/callbacks",
		})
	}
	return out
}

// parameters merges path-level and operation-level parameters; an operation
// parameter overrides the path's one of the same name and location.
func (b *catalogueBuilder) parameters(pathLevel, opLevel openapi3.Parameters) []Parameter {
	var out []Parameter
	index := map[string]int{}
	for _, list := range []openapi3.Parameters{pathLevel, opLevel} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			param := Parameter{
				Name:        p.Name,
				In:          p.In,
				Required:    p.Required || p.In == openapi3.ParameterInPath,
				Deprecated:  p.Deprecated,
				Description: truncateRunes(p.Description, b.opts.MaxDescription),
				Schema:      b.conv.convert(p.Schema, directionRequest),
			}
			if param.Schema == nil {
				if _, mt := preferredMediaType(p.Content); mt != nil {
					param.Schema = b.conv.convert(mt.Schema, directionRequest)
				}
			}
			key := p.In + "\x00" + p.Name
			if i, ok := index[key]; ok {
				out[i] = param
				continue
			}
			index[key] = len(out)
			out = append(out, param)
		}
	}
	return out
}

func (b *catalogueBuilder) requestBody(rb *openapi3.RequestBody) *RequestBody {
	out := &RequestBody{
		Required:     rb.Required,
		Description:  truncateRunes(rb.Description, b.opts.MaxDescription),
		ContentTypes: sortedKeys(rb.Content),
	}
	if ct, mt := preferredMediaType(rb.Content); mt != nil {
		out.ContentType = ct
		out.Schema = b.conv.convert(mt.Schema, directionRequest)
	}
	return out
}

func (b *catalogueBuilder) responses(responses *openapi3.Responses) []Response {
	m := responses.Map()
	var out []Response
	for _, status := range sortedKeys(m) {
		ref := m[status]
		if ref == nil || ref.Value == nil {
			continue
		}
		r := ref.Value
		resp := Response{Status: status, ContentTypes: sortedKeys(r.Content)}
		if r.Description != nil {
			resp.Description = truncateRunes(*r.Description, b.opts.MaxDescription)
		}
		if isSuccess(status) {
			if ct, mt := preferredMediaType(r.Content); mt != nil {
				resp.ContentType = ct
				resp.Schema = b.conv.convert(mt.Schema, directionResponse)
			}
		}
		out = append(out, resp)
	}
	return out
}

// security returns the operation's effective security requirement.
func (b *catalogueBuilder) security(op *openapi3.Operation) []SecurityAlternative {
	reqs := b.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if reqs == nil {
		return nil
	}
	out := make([]SecurityAlternative, 0, len(reqs))
	for _, req := range reqs {
		alt := SecurityAlternative{}
		for _, scheme := range sortedKeys(req) {
			var scopes []string
			if len(req[scheme]) > 0 {
				scopes = slices.Clone(req[scheme])
			}
			alt = append(alt, SchemeRequirement{Scheme: scheme, Scopes: scopes})
		}
		out = append(out, alt)
	}
	return out
}

// isSuccess reports whether a response status is a 2xx one.
func isSuccess(status string) bool {
	return len(status) == 3 && status[0] == '2'
}

// preferredMediaType picks the media type whose schema the catalogue shows:
// JSON first, then other +json types, then form encodings, then the first.
func preferredMediaType(content openapi3.Content) (string, *openapi3.MediaType) {
	if len(content) == 0 {
		return "", nil
	}
	best, bestRank := "", 99
	for ct := range content {
		rank := mediaTypeRank(ct)
		if rank < bestRank || (rank == bestRank && ct < best) {
			best, bestRank = ct, rank
		}
	}
	return best, content[best]
}

func mediaTypeRank(contentType string) int {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(contentType)
	}
	switch {
	case mt == "application/json":
		return 0
	case strings.HasSuffix(mt, "+json"):
		return 1
	case mt == "application/x-www-form-urlencoded":
		return 2
	case mt == "multipart/form-data":
		return 3
	case strings.Contains(mt, "json"):
		return 4
	default:
		return 5
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
