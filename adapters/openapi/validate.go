package openapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// fatalCodes are the kin-openapi validation codes that make a document
// unusable: the fields every document must have and references that lead
// nowhere. Every other finding (unknown fields such as TMDB's "cache", a
// parameter kept in the wrong place, a response without a description, a
// schema keyword of the wrong version...) leaves enough to build a catalogue
// from, so it is reported as a warning.
var fatalCodes = map[string]Code{
	"openapi-required":      CodeMissingField,
	"info-required":         CodeMissingField,
	"info-title-required":   CodeMissingField,
	"info-version-required": CodeMissingField,
	"paths-required":        CodeMissingField,
	"unresolved-ref":        CodeDanglingRef,
}

// validation collects what validating one document found.
type validation struct {
	doc      *openapi3.T
	opts     []openapi3.ValidationOption
	warnings []Problem
	fatal    []Problem
	seen     map[*openapi3.Schema]bool
}

// validateDocument runs kin-openapi's document validation and sorts its
// findings into warnings and fatal problems.
//
// kin-openapi's doc.Validate re-walks the whole schema graph under every
// media type and parameter that reaches it, which on Stripe's document costs
// three times as long as loading it. So validation runs in two passes that
// together check the same rules, each schema once: doc.Validate with every
// schema entry point temporarily replaced by an empty schema (structure:
// paths, operations, parameters, responses, security...), then each distinct
// schema's own keywords, its subschemas stubbed out. Example values are not
// checked against their schemas: they do not affect the catalogue.
func validateDocument(ctx context.Context, doc *openapi3.T) (warnings, fatal []Problem) {
	v := &validation{
		doc:  doc,
		opts: []openapi3.ValidationOption{openapi3.EnableMultiError(), openapi3.DisableExamplesValidation()},
		seen: map[*openapi3.Schema]bool{},
	}
	if doc.IsOpenAPI31OrLater() {
		v.opts = append(v.opts, openapi3.IsOpenAPI31OrLater())
	}
	v.structure(ctx)
	walkSchemaEntries(doc, func(ref *openapi3.SchemaRef, pointer string) {
		v.schema(ctx, ref, pointer)
	})
	return v.warnings, v.fatal
}

// structure validates everything but the schemas.
func (v *validation) structure(ctx context.Context) {
	saved := map[*openapi3.SchemaRef]*openapi3.Schema{}
	walkSchemaEntries(v.doc, func(ref *openapi3.SchemaRef, _ string) {
		if _, done := saved[ref]; done || ref.Value == nil {
			return
		}
		saved[ref] = ref.Value
		ref.Value = emptySchema
	})
	defer func() {
		for ref, schema := range saved {
			ref.Value = schema
		}
	}()
	err := v.doc.Validate(ctx, v.opts...)
	for _, e := range flatten(err) {
		v.add(v.problemFromValidation(e))
	}
}

// schema validates the schema behind ref and, once each, everything nested in it.
func (v *validation) schema(ctx context.Context, ref *openapi3.SchemaRef, pointer string) {
	if ref == nil {
		return
	}
	if ref.Value == nil {
		v.add(Problem{Code: CodeDanglingRef, Message: fmt.Sprintf("$ref %q does not resolve to a schema", ref.Ref), Pointer: pointer + "/$ref"})
		return
	}
	if target, ok := refPointer(ref.Ref); ok && ref.Ref != "" {
		pointer = target
	}
	s := ref.Value
	if v.seen[s] {
		return
	}
	v.seen[s] = true
	if err := stripSubschemas(s).Validate(ctx, v.opts...); err != nil {
		for _, e := range flatten(err) {
			p := v.problemFromValidation(e)
			p.Pointer = pointer
			v.add(p)
		}
	}
	v.unrepresentable(s, pointer)
	eachSubschema(s, func(child *openapi3.SchemaRef, tokens ...string) {
		v.schema(ctx, child, pointerJoin(pointer, tokens...))
	})
}

// unrepresentable warns about schema keywords the catalogue leaves out.
func (v *validation) unrepresentable(s *openapi3.Schema, pointer string) {
	if s.DynamicRef != "" {
		v.add(Problem{
			Code:    CodeUnsupportedFeature,
			Message: fmt.Sprintf("$dynamicRef %q is not resolved: the catalogue schema leaves it out", s.DynamicRef),
			Pointer: pointer + "/$dynamicRef",
		})
	}
	if s.SchemaDialect != "" && !isDefaultDialect(s.SchemaDialect) {
		v.add(Problem{
			Code:    CodeUnsupportedFeature,
			Message: fmt.Sprintf("$schema %q is not supported: the schema is read as JSON Schema 2020-12", s.SchemaDialect),
			Pointer: pointer + "/$schema",
		})
	}
}

// add files a problem as fatal or as a warning by its code.
func (v *validation) add(p Problem) {
	switch p.Code {
	case CodeMissingField, CodeDanglingRef, CodeExternalRef:
		v.fatal = append(v.fatal, p)
	default:
		v.warnings = append(v.warnings, p)
	}
}

// problemFromValidation turns one kin-openapi validation error into a
// located problem: its context wrappers become the pointer, its code the
// problem's code, and what remains below the wrappers the message.
func (v *validation) problemFromValidation(err error) Problem {
	var tokens []string
	var op *openapi3.Operation
	var pathItem *openapi3.PathItem
	inner := err
unwrap:
	for {
		switch e := inner.(type) {
		case *openapi3.SectionValidationError:
			tokens = append(tokens, sectionKey(e.Section))
			inner = e.Cause
		case *openapi3.PathValidationError:
			tokens = append(tokens, e.Path)
			if v.doc.Paths != nil {
				pathItem = v.doc.Paths.Value(e.Path)
			}
			inner = e.Cause
		case *openapi3.OperationValidationError:
			tokens = append(tokens, strings.ToLower(e.Method))
			if pathItem != nil {
				op = pathItem.GetOperation(e.Method)
			}
			inner = e.Cause
		case *openapi3.ComponentValidationError:
			tokens = append(tokens, componentKey(e.Section), e.Name)
			inner = e.Cause
		case *openapi3.WebhookValidationError:
			tokens = append(tokens, e.Name)
			inner = e.Cause
		case *openapi3.ParameterFieldValidationError:
			tokens = append(tokens, parameterTokens(pathItem, op, e.ParameterName)...)
			inner = e.Cause
		default:
			break unwrap
		}
	}
	p := Problem{Code: CodeInvalidDocument, Message: inner.Error(), Pointer: joinPointer(tokens)}
	var coded openapi3.CodedError
	if errors.As(inner, &coded) {
		if fatal, ok := fatalCodes[coded.Code()]; ok {
			p.Code = fatal
		} else {
			p.Code = Code(strings.ReplaceAll(coded.Code(), "-", "_"))
		}
	}
	var required *openapi3.RequiredFieldError
	var siblings *openapi3.ExtraSiblingFieldsError
	var undefined *openapi3.SecurityRequirementSchemeUndefinedError
	var unresolved *openapi3.UnresolvedRefError
	switch {
	case errors.As(inner, &undefined) && undefined.JSONPointer != "":
		p.Pointer = undefined.JSONPointer
	case errors.As(inner, &required) && required.Field != "":
		p.Pointer = requiredFieldPointer(tokens, required.Field)
	case errors.As(inner, &siblings) && len(siblings.Fields) == 1:
		p.Pointer = pointerJoin(p.Pointer, siblings.Fields[0])
	case errors.As(inner, &unresolved):
		p.Message = fmt.Sprintf("$ref %q does not resolve (a $ref cycle never reaches a definition)", unresolved.Ref)
	}
	if p.Code == CodeMissingField {
		p.Pointer = missingFieldPointer(inner, p.Pointer)
	}
	return p
}

// requiredFieldPointer places a kin-openapi required-field path ("info.version",
// "license.name") under the pointer of the object it was found in.
func requiredFieldPointer(tokens []string, field string) string {
	parts := strings.Split(field, ".")
	switch {
	case parts[0] == "server":
		return joinPointer(tokens) // the server's index is not known
	case len(tokens) > 0 && parts[0] == tokens[len(tokens)-1]:
		parts = parts[1:]
	}
	return joinPointer(append(slices.Clip(tokens), parts...))
}

// missingFieldPointer names the missing field itself for the root-level requirements.
func missingFieldPointer(err error, pointer string) string {
	var coded openapi3.CodedError
	if !errors.As(err, &coded) {
		return pointer
	}
	switch coded.Code() {
	case "openapi-required":
		return "/openapi"
	case "info-required":
		return "/info"
	case "info-title-required":
		return "/info/title"
	case "info-version-required":
		return "/info/version"
	case "paths-required":
		return "/paths"
	}
	return pointer
}

// parameterTokens locates a parameter by name in an operation or its path item.
func parameterTokens(item *openapi3.PathItem, op *openapi3.Operation, name string) []string {
	if op != nil {
		for i, ref := range op.Parameters {
			if ref != nil && ref.Value != nil && ref.Value.Name == name {
				return []string{"parameters", strconv.Itoa(i)}
			}
		}
	}
	if item != nil {
		for i, ref := range item.Parameters {
			if ref != nil && ref.Value != nil && ref.Value.Name == name {
				return []string{"parameters", strconv.Itoa(i)}
			}
		}
	}
	return []string{"parameters"}
}

// sectionKey maps kin-openapi's section names onto document keys.
func sectionKey(section string) string {
	if section == "external docs" {
		return "externalDocs"
	}
	return section
}

// componentKey maps kin-openapi's component labels onto document keys.
func componentKey(label string) string {
	switch label {
	case "schema":
		return "schemas"
	case "parameter":
		return "parameters"
	case "header":
		return "headers"
	case "request body":
		return "requestBodies"
	case "response":
		return "responses"
	case "security scheme":
		return "securitySchemes"
	case "example":
		return "examples"
	case "link":
		return "links"
	case "callback":
		return "callbacks"
	}
	return label
}

// flatten lists the independent errors of a (multi-)error.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
