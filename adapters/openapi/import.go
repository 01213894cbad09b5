package openapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/getkin/kin-openapi/openapi3"
)

// Result is an imported document: the normalised OpenAPI 3 model, what it
// says about itself, and its endpoint catalogue.
type Result struct {
	// Document is the loaded, $ref-resolved OpenAPI 3 model (Swagger 2.0
	// converted), for request validation later on. Treat it as read-only.
	Document *openapi3.T `json:"-"`
	// Format is the notation the document was submitted in.
	Format Format `json:"format"`
	// Version is the declared version: "2.0" for Swagger, "3.0.3", "3.1.0"...
	Version string `json:"version"`
	// Title and APIVersion come from the info object.
	Title      string `json:"title"`
	APIVersion string `json:"api_version,omitempty"`
	// Servers lists the declared base URLs; BaseURL is the default one.
	Servers         []Server         `json:"servers,omitempty"`
	BaseURL         string           `json:"base_url,omitempty"`
	SecuritySchemes []SecurityScheme `json:"security_schemes,omitempty"`
	// ContentHash is the hex SHA-256 of the submitted bytes: the document's
	// key in content-addressed storage.
	ContentHash string `json:"content_hash"`
	// Warnings are the problems that did not prevent the import.
	Warnings []Problem `json:"warnings,omitempty"`
	// Operations is the catalogue, by path then method. Operations sharing a
	// schema share its bytes: treat the schemas as read-only.
	Operations []Operation `json:"operations"`
}

// Import parses an OpenAPI document (JSON or YAML; Swagger 2.0, OpenAPI 3.0
// or 3.1), validates it and builds its endpoint catalogue. It reads nothing
// but doc: external $refs are refused, never fetched. A document that cannot
// be used fails with an *ImportError saying what is wrong and where; one that
// is merely untidy imports with Result.Warnings. Options' zero value means
// the defaults; invalid options are a plain error. A document that makes the
// parser panic is refused as invalid_document rather than crashing the caller.
func Import(ctx context.Context, doc []byte, opts Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, newImportError(fmt.Errorf("panic: %v", r), Problem{
				Code:    CodeInvalidDocument,
				Message: "the document could not be processed: the OpenAPI parser failed on it",
			})
		}
	}()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("import openapi document: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("import openapi document: %w", err)
	}
	opts.setDefaults()
	if int64(len(doc)) > opts.MaxBytes {
		return nil, tooLarge(opts.MaxBytes)
	}
	sum := sha256.Sum256(doc)
	data := bytes.TrimPrefix(doc, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, newImportError(nil, Problem{Code: CodeInvalidSyntax, Message: "the document is empty"})
	}
	format := detectFormat(data)
	if err := checkAliases(data, format); err != nil {
		return nil, err
	}
	version, verr := detectVersion(data, format)
	if verr != nil {
		return nil, locate(verr, data)
	}
	loaded, err := load(ctx, data, version, format)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("import openapi document: %w", ctxErr)
		}
		return nil, loadError(err, data)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("import openapi document: %w", err)
	}
	return fromLoaded(ctx, loaded, data, format, version, hex.EncodeToString(sum[:]), opts)
}

// fromLoaded validates a loaded document and builds its catalogue; data is
// its text, for locating warnings.
func fromLoaded(ctx context.Context, loaded *openapi3.T, data []byte, format Format, version declaredVersion,
	contentHash string, opts Options) (*Result, error) {
	warnings, fatal := validateDocument(ctx, loaded)
	if len(fatal) > 0 {
		return nil, locate(newImportError(nil, fatal[0], capProblems(fatal[1:], maxOtherProblems)...), data)
	}
	if version.family == familyOpenAPI31 {
		warnings = append(warnings, openAPI31Warnings(loaded)...)
	}
	ops, catalogueWarnings, err := buildCatalogue(ctx, loaded, opts)
	if err != nil {
		return nil, fmt.Errorf("import openapi document: %w", err)
	}
	warnings = append(warnings, catalogueWarnings...)

	result := &Result{
		Document:        loaded,
		Format:          format,
		Version:         version.value,
		Servers:         servers(loaded),
		SecuritySchemes: securitySchemes(loaded),
		ContentHash:     contentHash,
		Warnings:        locateWarnings(limitWarnings(warnings, opts.MaxWarnings), data),
		Operations:      ops,
	}
	if loaded.Info != nil {
		result.Title, result.APIVersion = loaded.Info.Title, loaded.Info.Version
	}
	result.BaseURL = baseURL(result.Servers)
	return result, nil
}

// maxOtherProblems caps ImportError.Others.
const maxOtherProblems = 20

// ReadDocument reads a document of at most maxBytes (0: DefaultMaxBytes)
// from r, failing with the too_large *ImportError as soon as it is exceeded
// rather than reading the rest.
func ReadDocument(r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read openapi document: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	return data, nil
}

func tooLarge(limit int64) *ImportError {
	return newImportError(ErrTooLarge, Problem{
		Code:    CodeTooLarge,
		Message: fmt.Sprintf("the document is larger than the limit of %d bytes", limit),
	})
}

// locate fills in the line and column of an error's problems that have a
// pointer but no position.
func locate(err *ImportError, data []byte) *ImportError {
	needs := err.Line == 0 && err.Pointer != ""
	for _, p := range err.Others {
		needs = needs || (p.Line == 0 && p.Pointer != "")
	}
	if !needs {
		return err
	}
	tree, perr := parseSourceTree(data)
	if perr != nil {
		return err
	}
	if err.Line == 0 && err.Pointer != "" {
		err.Line, err.Column = tree.locate(err.Pointer)
	}
	for i := range err.Others {
		if p := &err.Others[i]; p.Line == 0 && p.Pointer != "" {
			p.Line, p.Column = tree.locate(p.Pointer)
		}
	}
	return err
}

// locateWarnings adds positions to warnings; the source is parsed again
// only when there are any.
func locateWarnings(warnings []Problem, data []byte) []Problem {
	if len(warnings) == 0 {
		return nil
	}
	tree, err := parseSourceTree(data)
	if err != nil {
		return warnings
	}
	for i := range warnings {
		if w := &warnings[i]; w.Line == 0 && w.Pointer != "" {
			w.Line, w.Column = tree.locate(w.Pointer)
		}
	}
	return warnings
}

// limitWarnings keeps the first max warnings and says how many were left out.
func limitWarnings(warnings []Problem, limit int) []Problem {
	if len(warnings) <= limit {
		return warnings
	}
	kept := append(warnings[:limit:limit], Problem{
		Code:    CodeTooManyWarnings,
		Message: fmt.Sprintf("%d further warnings were left out", len(warnings)-limit),
	})
	return kept
}

func capProblems(problems []Problem, limit int) []Problem {
	if len(problems) > limit {
		return problems[:limit]
	}
	return problems
}
