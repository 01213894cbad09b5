package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"golang.org/x/oauth2"

	"github.com/apiq/apiq/adapters/outbound"
)

// maxProviderResponse caps what a token, revocation or discovery endpoint
// may answer.
const maxProviderResponse = 1 << 20

// outboundTransport is an http.RoundTripper that sends every request
// through the outbound client, so golang.org/x/oauth2's token requests are
// SSRF-checked, rate-limited and circuit-broken like API calls. Redirects
// are the outbound client's business (it strips credentials leaving the
// origin), so the http.Client around it follows none.
type outboundTransport struct {
	client *outbound.Client
	key    string
}

// RoundTrip sends req through the outbound client.
func (t outboundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body io.Reader
	if req.Body != nil {
		defer func() { _ = req.Body.Close() }()
		body = req.Body
	}
	res, err := t.client.Do(req.Context(), outbound.Request{
		Method:           req.Method,
		URL:              req.URL.String(),
		Header:           req.Header,
		Body:             body,
		Key:              t.key,
		MaxResponseBytes: maxProviderResponse,
	})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        strconv.Itoa(res.Status) + " " + http.StatusText(res.Status),
		StatusCode:    res.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        res.Header,
		Body:          io.NopCloser(bytes.NewReader(res.Body)),
		ContentLength: int64(len(res.Body)),
		Request:       req,
	}, nil
}

// providerKey groups a connection's calls to its OAuth provider under one
// rate limiter and breaker, apart from its API calls.
func providerKey(connectionID string) string { return connectionID + "#oauth" }

// httpClient returns an http.Client on the outbound client for a
// connection's provider calls.
func (m *Manager) httpClient(connectionID string) *http.Client {
	return &http.Client{
		Transport: outboundTransport{client: m.cfg.Outbound, key: providerKey(connectionID)},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// oauthContext makes golang.org/x/oauth2 use the outbound client.
func (m *Manager) oauthContext(ctx context.Context, connectionID string) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, m.httpClient(connectionID))
}

// providerEndpoints are the parts of an OpenID Provider's configuration
// credentials use.
type providerEndpoints struct {
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

// discover reads an OpenID Provider configuration document.
func (m *Manager) discover(ctx context.Context, configURL string) (providerEndpoints, error) {
	if err := checkEndpoint(configURL); err != nil {
		return providerEndpoints{}, fmt.Errorf("discovery URL: %w", err)
	}
	res, err := m.cfg.Outbound.Do(ctx, outbound.Request{
		URL:              configURL,
		Header:           http.Header{"Accept": {"application/json"}},
		MaxResponseBytes: maxProviderResponse,
	})
	if err != nil {
		return providerEndpoints{}, err
	}
	if res.Status != http.StatusOK {
		return providerEndpoints{}, fmt.Errorf("status %d", res.Status)
	}
	var e providerEndpoints
	if err := json.Unmarshal(res.Body, &e); err != nil {
		return providerEndpoints{}, fmt.Errorf("not an OpenID configuration: %w", err)
	}
	var errs []error
	for _, u := range []*string{&e.AuthorizationEndpoint, &e.TokenEndpoint, &e.RevocationEndpoint} {
		if *u == "" {
			continue
		}
		if err := checkEndpoint(*u); err != nil {
			errs = append(errs, fmt.Errorf("endpoint %q: %w", *u, err))
		}
	}
	if e.TokenEndpoint == "" {
		errs = append(errs, errors.New("no token_endpoint"))
	}
	return e, errors.Join(errs...)
}
