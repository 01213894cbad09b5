package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// DocumentSource is where a connection's OpenAPI document comes from: the
// text itself, or a URL fetched through the outbound caller (exactly one).
type DocumentSource struct {
	Text []byte
	URL  string
}

// ErrDocumentFetch matches every *DocumentFetchError.
var ErrDocumentFetch = domain.NewError(domain.ErrInvalid, "document_fetch_failed", "the document could not be fetched")

// DocumentFetchError says why document_url could not be fetched.
type DocumentFetchError struct {
	// Reason is blocked_address, forbidden_url, http_status, timeout or unreachable.
	Reason string
	// Status is the answer's status for http_status.
	Status int
	Err    error
}

func (e *DocumentFetchError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("fetch document: the server answered %d", e.Status)
	}
	return "fetch document: " + e.Reason
}

// FetchFailure returns the reason and the answer's status, for the HTTP layer.
func (e *DocumentFetchError) FetchFailure() (string, int) { return e.Reason, e.Status }

// Unwrap matches ErrDocumentFetch and the cause.
func (e *DocumentFetchError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDocumentFetch}
	}
	return []error{ErrDocumentFetch, e.Err}
}

// Document source errors.
var (
	ErrDocumentRequired = domain.Invalid("document", "document_required", "give either document or document_url")
	ErrDocumentTwice    = domain.Invalid("document", "document_ambiguous", "give either document or document_url, not both")
)

// importedDocument is a document that imported, with what events carry.
type importedDocument struct {
	raw       []byte
	mediaType string
	result    *openapi.Result
	catalogue []byte
	// hash is the document's content hash; catalogueHash its catalogue's.
	hash          string
	catalogueHash string
}

// importDocument obtains and imports a document. Nothing is stored: a bad
// document leaves no trace (store puts the blobs once everything else passed).
func (d ConnectionDeps) importDocument(ctx context.Context, src DocumentSource) (importedDocument, error) {
	raw, err := d.documentBytes(ctx, src)
	if err != nil {
		return importedDocument{}, err
	}
	res, err := openapi.Import(ctx, raw, d.Import)
	if err != nil {
		return importedDocument{}, fmt.Errorf("import document: %w", err)
	}
	catalogue, err := json.Marshal(res.Operations)
	if err != nil {
		return importedDocument{}, fmt.Errorf("encode catalogue: %w", err)
	}
	mediaType := "application/json"
	if res.Format == openapi.FormatYAML {
		mediaType = "application/yaml"
	}
	return importedDocument{raw: raw, mediaType: mediaType, result: res, catalogue: catalogue}, nil
}

// documentBytes returns the document's text, fetching it when given a URL.
func (d ConnectionDeps) documentBytes(ctx context.Context, src DocumentSource) ([]byte, error) {
	switch {
	case len(src.Text) > 0 && src.URL != "":
		return nil, ErrDocumentTwice
	case src.URL != "":
		return d.fetchDocument(ctx, src.URL)
	case len(src.Text) == 0:
		return nil, ErrDocumentRequired
	}
	return openapi.ReadDocument(bytes.NewReader(src.Text), d.Import.MaxBytes)
}

// fetchDocument GETs a document through the outbound caller, so only
// allowed addresses are dialled, and reads at most the size limit.
func (d ConnectionDeps) fetchDocument(ctx context.Context, rawURL string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, domain.Invalid("document_url", "invalid_document_url",
			"document_url must be an absolute http or https URL without credentials")
	}
	res, err := d.Outbound.Do(ctx, outbound.Request{
		Method:           http.MethodGet,
		URL:              rawURL,
		Header:           http.Header{"Accept": {"application/json, application/yaml, text/yaml, */*"}},
		Key:              "document:" + u.Host,
		MaxResponseBytes: d.Import.MaxBytes + 1,
		AllowTruncated:   true,
	})
	if err != nil {
		return nil, &DocumentFetchError{Reason: fetchReason(err), Err: err}
	}
	if res.Status < 200 || res.Status > 299 {
		return nil, &DocumentFetchError{Reason: "http_status", Status: res.Status}
	}
	return openapi.ReadDocument(bytes.NewReader(res.Body), d.Import.MaxBytes)
}

func fetchReason(err error) string {
	switch {
	case errors.Is(err, outbound.ErrBlockedAddress):
		return "blocked_address"
	case errors.Is(err, outbound.ErrForbiddenURL), errors.Is(err, outbound.ErrForbiddenRedirect),
		errors.Is(err, outbound.ErrTooManyRedirects):
		return "forbidden_url"
	case errors.Is(err, outbound.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, outbound.ErrCircuitOpen), errors.Is(err, outbound.ErrRateLimited):
		return "rate_limited"
	}
	return "unreachable"
}

// store puts the document and its catalogue into the blob store (once per
// content: storing again is a no-op).
func (d ConnectionDeps) store(ctx context.Context, doc *importedDocument) error {
	hash, err := d.Blobs.Put(ctx, doc.mediaType, doc.raw)
	if err != nil {
		return fmt.Errorf("store document: %w", err)
	}
	catalogueHash, err := d.Blobs.Put(ctx, "application/json", doc.catalogue)
	if err != nil {
		return fmt.Errorf("store catalogue: %w", err)
	}
	doc.hash, doc.catalogueHash = hash, catalogueHash
	return nil
}

// events returns the import's events (the diff, when given, against the
// previous catalogue).
func (doc importedDocument) events(diff openapi.CatalogueDiff) (connection.DocumentImported, connection.EndpointsDiscovered) {
	res := doc.result
	warnings := make([]connection.Warning, len(res.Warnings))
	for i, w := range res.Warnings {
		warnings[i] = connection.Warning{Code: string(w.Code), Message: w.Message, Pointer: w.Pointer, Line: w.Line}
	}
	imported := connection.DocumentImported{
		DocumentHash: doc.hash, DocumentBytes: int64(len(doc.raw)), OpenAPIVersion: res.Version,
		Title: res.Title, APIVersion: res.APIVersion, OperationCount: len(res.Operations), Warnings: warnings,
	}
	discovered := connection.EndpointsDiscovered{
		DocumentHash: doc.hash, CatalogueHash: doc.catalogueHash, OperationCount: len(res.Operations),
	}
	for _, r := range diff.Added {
		discovered.Added = append(discovered.Added, connection.OperationRef(r))
	}
	for _, r := range diff.Removed {
		discovered.Removed = append(discovered.Removed, connection.OperationRef(r))
	}
	for _, c := range diff.Changed {
		discovered.Changed = append(discovered.Changed, connection.OperationChange{
			OperationRef: connection.OperationRef(c.OperationRef), Changes: c.Changes,
		})
	}
	return imported, discovered
}

// defaultBaseURL is the document's default server, resolved against the
// URL the document came from when it is relative ("" when it cannot be).
func (doc importedDocument) defaultBaseURL(documentURL string) string {
	server := strings.TrimSpace(doc.result.BaseURL)
	if server == "" {
		return ""
	}
	ref, err := url.Parse(server)
	if err != nil {
		return ""
	}
	if ref.IsAbs() {
		return server
	}
	if documentURL == "" {
		return ""
	}
	base, err := url.Parse(documentURL)
	if err != nil {
		return ""
	}
	return base.ResolveReference(ref).String()
}

// catalogue loads a stored catalogue.
func (d ConnectionDeps) catalogue(ctx context.Context, hash string) ([]openapi.Operation, error) {
	raw, err := d.Blobs.Get(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("load catalogue %s: %w", hash, err)
	}
	var ops []openapi.Operation
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, fmt.Errorf("decode catalogue %s: %w", hash, err)
	}
	return ops, nil
}
