package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/apiq/apiq/adapters/credentials"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// TestConnection makes one safe read call to a connection's API with its
// credentials applied: the operation named, or one chosen from the
// catalogue (a GET without required parameters, preferring ones without
// path parameters and, when credentials are stored, ones that need them).
type TestConnection struct {
	ConnectionID string
	// OperationID names the operation to call ("": choose one).
	OperationID string
	// Params are the named operation's parameters by name (path, query or header).
	Params map[string]string
}

// TestConnectionResult is the recorded outcome.
type TestConnectionResult struct {
	ConnectionResult
	OperationID string
	Tested      connection.Tested
	// NeedsReauthorization says the provider refused the credentials.
	NeedsReauthorization bool
}

// Errors of the connection test.
var (
	ErrNoTestOperation = domain.Invalid("operation_id", "no_test_operation",
		"the document has no GET operation without required parameters: name the operation to call")
	ErrOperationNotFound = domain.NewError(domain.ErrNotFound, "operation_not_found",
		"the connection's document has no such operation")
	ErrUnsafeTestOperation = domain.Invalid("operation_id", "unsafe_test_operation",
		"only read operations (GET, HEAD) may be called to test a connection")
)

// testResponseCap bounds what a test call reads of the answer: only its
// status matters.
const testResponseCap = 64 << 10

// TestConnectionHandler handles TestConnection.
type TestConnectionHandler = Handler[TestConnection, TestConnectionResult]

type testConnectionHandler struct{ d ConnectionDeps }

// NewTestConnectionHandler needs Store, Vault, Blobs and Credentials.
func NewTestConnectionHandler(d ConnectionDeps) (TestConnectionHandler, error) {
	if err := d.require("TestConnection", true, false, true); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[TestConnection, TestConnectionResult]("TestConnection", testConnectionHandler{d}, d.Deps), nil
}

// Handle calls the API through the outbound caller (never outside the
// allowlist) and records connection.tested with the status, duration and a
// scrubbed error; a provider refusing the OAuth credentials also records
// connection.reauthorization_required.
func (h testConnectionHandler) Handle(ctx context.Context, meta Meta, cmd TestConnection) (TestConnectionResult, error) {
	current, err := loadConnection(ctx, h.d.Store, meta.TenantID, cmd.ConnectionID, false)
	if err != nil {
		return TestConnectionResult{}, err
	}
	if current.state.Disabled {
		return TestConnectionResult{}, connection.ErrDisabled
	}
	ops, err := h.d.catalogue(ctx, current.state.CatalogueHash)
	if err != nil {
		return TestConnectionResult{}, err
	}
	op, err := testOperation(ops, cmd.OperationID, current.state.Credentials)
	if err != nil {
		return TestConnectionResult{}, err
	}
	req, err := testRequest(current.state.BaseURL, op, cmd.Params)
	if err != nil {
		return TestConnectionResult{}, err
	}
	req.Key = cmd.ConnectionID
	res, applied, callErr := h.d.Credentials.Do(ctx, meta.TenantID, cmd.ConnectionID, current.state.Credentials, req)
	tested := connection.Tested{Method: op.Method, Path: op.Path}
	if res != nil {
		tested.Status = res.Status
		tested.DurationMS = res.Duration.Milliseconds()
	}
	tested.OK = callErr == nil && tested.Status >= 200 && tested.Status <= 299
	switch {
	case callErr != nil:
		tested.Error = applied.Scrubber().String(testFailure(callErr))
	case !tested.OK:
		tested.Error = fmt.Sprintf("the API answered %d", tested.Status)
	}
	record := connection.RecordTest{Result: tested}
	var reauth *credentials.ReauthorizationError
	if errors.As(callErr, &reauth) || errors.Is(callErr, credentials.ErrReauthorizationRequired) {
		reason := "the provider refused the credentials"
		if reauth != nil && reauth.Reason != "" {
			reason = applied.Scrubber().String(reauth.Reason)
		}
		record.Reauthorization = &connection.ReauthorizationRequired{Reason: reason}
	}
	out, err := changeConnection(ctx, h.d.Deps, meta, cmd.ConnectionID, record)
	if err != nil {
		return TestConnectionResult{}, err
	}
	return TestConnectionResult{
		ConnectionResult: connectionResult(cmd.ConnectionID, out), OperationID: op.OperationID,
		Tested: tested, NeedsReauthorization: out.State.NeedsReauthorization,
	}, nil
}

// testFailure describes a failed call without its URL (which may carry a
// query-string API key) or anything else the API sent.
func testFailure(err error) string {
	switch {
	case errors.Is(err, outbound.ErrBlockedAddress):
		return "the address is not allowed (APIQ_OUTBOUND_ALLOW)"
	case errors.Is(err, outbound.ErrForbiddenURL), errors.Is(err, outbound.ErrForbiddenRedirect):
		return "the URL or a redirect was refused"
	case errors.Is(err, outbound.ErrTooManyRedirects):
		return "too many redirects"
	case errors.Is(err, outbound.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "the API did not answer in time"
	case errors.Is(err, outbound.ErrCircuitOpen):
		return "the connection's circuit breaker is open after repeated failures"
	case errors.Is(err, outbound.ErrRateLimited):
		return "the connection's rate limit was reached"
	case errors.Is(err, outbound.ErrResponseTooLarge):
		return "the answer was too large"
	case errors.Is(err, credentials.ErrNotAuthorized):
		return credentials.ErrNotAuthorized.Message
	case errors.Is(err, credentials.ErrReauthorizationRequired):
		return credentials.ErrReauthorizationRequired.Message
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "the API could not be reached"
}

// testOperation finds the named operation, which must be a read, or
// chooses one.
func testOperation(ops []openapi.Operation, operationID string, creds connection.Credentials) (openapi.Operation, error) {
	if operationID != "" {
		i := slices.IndexFunc(ops, func(o openapi.Operation) bool { return o.OperationID == operationID })
		if i < 0 {
			return openapi.Operation{}, ErrOperationNotFound
		}
		if m := ops[i].Method; m != http.MethodGet && m != http.MethodHead {
			return openapi.Operation{}, ErrUnsafeTestOperation
		}
		return ops[i], nil
	}
	var candidates []openapi.Operation
	for _, o := range ops {
		if o.Method == http.MethodGet && !o.Deprecated && !needsInput(o) {
			candidates = append(candidates, o)
		}
	}
	if len(candidates) == 0 {
		return openapi.Operation{}, ErrNoTestOperation
	}
	rank := func(o openapi.Operation) []int {
		pathParams := 0
		if strings.Contains(o.Path, "{") {
			pathParams = 1
		}
		return []int{pathParams, credentialsMismatch(o, creds), strings.Count(o.Path, "/"), len(o.Path)}
	}
	slices.SortStableFunc(candidates, func(a, b openapi.Operation) int {
		if c := slices.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a.OperationID, b.OperationID)
	})
	return candidates[0], nil
}

// needsInput reports whether an operation has required parameters or a
// required body.
func needsInput(o openapi.Operation) bool {
	if o.RequestBody != nil && o.RequestBody.Required {
		return true
	}
	return slices.ContainsFunc(o.Parameters, func(p openapi.Parameter) bool { return p.Required })
}

// credentialsMismatch ranks how well an operation suits a test of the
// credentials (0 best): with credentials, one that needs the security
// scheme they were given for (or, unknown, any scheme) tests them too;
// without, one that needs none can succeed.
func credentialsMismatch(o openapi.Operation, creds connection.Credentials) int {
	scheme := creds.Public[credentials.PublicScheme]
	var fits bool
	switch {
	case !connection.HasSecrets(creds):
		fits = !secured(o)
	case scheme != "":
		fits = slices.ContainsFunc(o.Security, func(alt openapi.SecurityAlternative) bool {
			return slices.ContainsFunc(alt, func(r openapi.SchemeRequirement) bool { return r.Scheme == scheme })
		})
	default:
		fits = secured(o)
	}
	if fits {
		return 0
	}
	return 1
}

// secured reports whether every way to call the operation needs credentials.
func secured(o openapi.Operation) bool {
	if len(o.Security) == 0 {
		return false
	}
	return !slices.ContainsFunc(o.Security, func(alt openapi.SecurityAlternative) bool { return len(alt) == 0 })
}

// testRequest builds the call: path parameters substituted, query and
// header parameters set, each parameter declared by the operation.
func testRequest(baseURL string, op openapi.Operation, params map[string]string) (outbound.Request, error) {
	path := op.Path
	query := url.Values{}
	header := http.Header{"Accept": {"application/json, */*;q=0.5"}}
	var cookies []string
	for name, value := range params {
		i := slices.IndexFunc(op.Parameters, func(p openapi.Parameter) bool { return p.Name == name })
		if i < 0 {
			return outbound.Request{}, domain.Invalid("params."+name, "unknown_parameter",
				"the operation has no parameter "+name)
		}
		switch op.Parameters[i].In {
		case "path":
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(value))
		case "query":
			query.Set(name, value)
		case "header":
			header.Set(name, value)
		case "cookie":
			cookies = append(cookies, name+"="+url.QueryEscape(value))
		}
	}
	for _, p := range op.Parameters {
		if _, given := params[p.Name]; p.Required && !given {
			return outbound.Request{}, domain.Invalid("params."+p.Name, "missing_parameter",
				"the operation needs the "+p.In+" parameter "+p.Name)
		}
	}
	if len(cookies) > 0 {
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	target := strings.TrimRight(baseURL, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	return outbound.Request{Method: op.Method, URL: target, Header: header,
		MaxResponseBytes: testResponseCap, AllowTruncated: true}, nil
}
