package oidc

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/apiq/apiq/adapters/outbound"
)

// maxProviderResponse caps what a discovery, JWKS, token or userinfo
// endpoint may answer.
const maxProviderResponse = 1 << 20

// outboundTransport sends every request to a provider through the outbound
// client, so discovery, JWKS, token and userinfo calls obey the address
// allowlist (APIQ_OUTBOUND_ALLOW), rate limits and circuit breaker.
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
		Method: req.Method, URL: req.URL.String(), Header: req.Header, Body: body,
		Key: t.key, MaxResponseBytes: maxProviderResponse,
	})
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status:     strconv.Itoa(res.Status) + " " + http.StatusText(res.Status),
		StatusCode: res.Status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: res.Header, Body: io.NopCloser(bytes.NewReader(res.Body)),
		ContentLength: int64(len(res.Body)), Request: req,
	}, nil
}

// httpClient returns a client whose requests go through the outbound client.
func httpClient(client *outbound.Client, key string) *http.Client {
	return &http.Client{Transport: outboundTransport{client: client, key: key},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
