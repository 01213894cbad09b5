package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"
)

// externalRefError is what the loader gets for every external $ref: APIQ
// reads no file and makes no request while parsing a document.
type externalRefError struct {
	uri string
}

func (e *externalRefError) Error() string {
	return fmt.Sprintf("external reference %q refused: APIQ does not follow $refs outside the document", e.uri)
}

// refuseExternal is the loader's only way to read a referenced document.
func refuseExternal(_ *openapi3.Loader, location *url.URL) ([]byte, error) {
	return nil, &externalRefError{uri: location.String()}
}

// newLoader returns a kin-openapi loader that resolves local $refs only.
func newLoader(ctx context.Context) *openapi3.Loader {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = false
	// Set as well, so that no code path of the loader falls back to reading
	// files or URLs: a custom reader is consulted instead of the flag.
	loader.ReadFromURIFunc = refuseExternal
	return loader
}

// load decodes the document and resolves its local references, converting
// Swagger 2.0 to OpenAPI 3.
func load(ctx context.Context, data []byte, v declaredVersion, format Format) (*openapi3.T, error) {
	loader := newLoader(ctx)
	if v.family != familySwagger2 {
		doc, err := loadOpenAPI3(ctx, loader, data, format)
		if err != nil {
			return nil, err
		}
		if v.family == familyOpenAPI31 {
			if err := resolveComponentPathItems(loader, doc); err != nil {
				return nil, err
			}
		}
		return doc, nil
	}
	var doc2 openapi2.T
	if err := openapi2.UnmarshalFromData(data, &doc2); err != nil {
		return nil, err
	}
	doc, err := openapi2conv.ToV3WithLoader(&doc2, loader, nil)
	if err != nil {
		return nil, fmt.Errorf("convert swagger 2.0 to openapi 3: %w", err)
	}
	return doc, nil
}

// loadOpenAPI3 loads an OpenAPI 3 document. A JSON one is decoded from the
// node tree jsonNodeTree builds, which kin-openapi decodes as it would the
// tree of its YAML parser (a third of the time for Stripe's document);
// should that fail, or the document not be JSON, kin-openapi loads the text
// itself, so a bad document fails with the errors its parser gives.
func loadOpenAPI3(ctx context.Context, loader *openapi3.Loader, data []byte, format Format) (*openapi3.T, error) {
	if format == FormatJSON {
		if root, err := jsonNodeTree(data); err == nil {
			doc := &openapi3.T{}
			if err := root.Decode(doc); err == nil {
				if err := loader.ResolveRefsIn(doc, nil); err == nil {
					return doc, nil
				}
			}
		}
		loader = newLoader(ctx)
	}
	return loader.LoadFromData(data)
}

// quoted finds the double-quoted strings of an error message: kin-openapi
// quotes the $ref it failed on.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// loadError explains why kin-openapi could not load the document, located
// in the submitted text.
func loadError(err error, data []byte) *ImportError {
	tree, parseErr := parseSourceTree(data)
	if parseErr != nil {
		return syntaxError(parseErr, data)
	}
	var loadErrs *yaml.LoadErrors
	if errors.As(err, &loadErrs) && len(loadErrs.Errors) > 0 {
		return decodeError(err, loadErrs, tree)
	}
	var external *externalRefError
	var disallowed *openapi3.DisallowedExternalRefError
	isExternal := errors.As(err, &external) || errors.As(err, &disallowed)
	for _, q := range quoted.FindAllString(err.Error(), -1) {
		ref, uerr := strconv.Unquote(q)
		if uerr != nil {
			continue
		}
		pointer, line, column, found := tree.findRef(ref)
		if !found && strings.HasPrefix(ref, "#/components/") {
			// A converted Swagger 2.0 document names #/definitions/X this way.
			ref = openapi2conv.FromV3Ref(ref)
			pointer, line, column, found = tree.findRef(ref)
		}
		if !found {
			continue
		}
		p := Problem{Pointer: pointer, Line: line, Column: column}
		if isExternal || !strings.HasPrefix(ref, "#") {
			p.Code = CodeExternalRef
			p.Message = fmt.Sprintf("$ref %q points outside the document; APIQ never follows external references (inline or bundle the referenced definitions)", ref)
		} else {
			p.Code = CodeDanglingRef
			p.Message = fmt.Sprintf("$ref %q does not resolve to anything in the document", ref)
		}
		return newImportError(err, p)
	}
	p := Problem{Code: CodeInvalidDocument, Message: err.Error()}
	if isExternal {
		p.Code = CodeExternalRef
	}
	return newImportError(err, p)
}

// decodeError reports values of the wrong type (Spotify's "true" for a
// boolean), each at its pointer and line.
func decodeError(err error, loadErrs *yaml.LoadErrors, tree *sourceTree) *ImportError {
	const maxOthers = 20
	var problems []Problem
	for _, e := range loadErrs.Errors {
		p := Problem{Code: CodeInvalidDocument, Line: e.Mark.Line, Column: e.Mark.Column, Message: e.Message}
		if pointer, ok := tree.pointerAt(e.Mark.Line, e.Mark.Column); ok {
			p.Pointer = pointer
			p.Message = strings.TrimSuffix(p.Message, " in "+pointer)
		} else if i := strings.LastIndex(p.Message, " in /"); i >= 0 {
			p.Pointer = p.Message[i+len(" in "):]
			p.Message = p.Message[:i]
		}
		if strings.Contains(p.Message, "excessive aliasing") {
			p.Code = CodeAliasBomb
		}
		problems = append(problems, p)
		if len(problems) > maxOthers {
			break
		}
	}
	return newImportError(err, problems[0], problems[1:]...)
}

// syntaxError locates a parse failure: a JSON document gets the JSON
// parser's verdict, anything else the YAML parser's.
func syntaxError(err error, data []byte) *ImportError {
	if detectFormat(data) == FormatJSON {
		var raw json.RawMessage
		jerr := json.Unmarshal(data, &raw)
		var syn *json.SyntaxError
		if errors.As(jerr, &syn) {
			line, column := lineColumn(data, syn.Offset)
			return newImportError(jerr, Problem{
				Code: CodeInvalidSyntax, Message: "invalid JSON: " + syn.Error(), Line: line, Column: column,
			})
		}
	}
	p := Problem{Code: CodeInvalidSyntax, Message: "invalid YAML: " + err.Error()}
	var le *yaml.LoadError
	var les *yaml.LoadErrors
	switch {
	case errors.As(err, &le):
		p.Message = "invalid YAML: " + le.Message
		p.Line, p.Column = le.Mark.Line, le.Mark.Column
	case errors.As(err, &les) && len(les.Errors) > 0:
		p.Message = "invalid YAML: " + les.Errors[0].Message
		p.Line, p.Column = les.Errors[0].Mark.Line, les.Errors[0].Mark.Column
	}
	if strings.Contains(p.Message, "excessive aliasing") {
		p.Code = CodeAliasBomb
	}
	return newImportError(err, p)
}
