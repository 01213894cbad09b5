package outbound_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// credentialed is a request carrying every kind of credential the caller
// knows about, plus one header that is not secret.
func credentialed(rawURL string) outbound.Request {
	return outbound.Request{
		URL: rawURL,
		Header: http.Header{
			"Authorization":       {"Bearer tok-123"},
			"Cookie":              {"session=abc"},
			"Proxy-Authorization": {"Basic cHJveHk6cHc="},
			"X-Api-Key":           {"key-456"},
			"X-Connection-Secret": {"conn-789"},
			"X-Trace":             {"trace-1"},
		},
		SecretHeaders:     []string{"X-Connection-Secret"},
		SecretQueryParams: []string{"api_key"},
	}
}

var credentialHeaderNames = []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "X-Connection-Secret"}

func TestRedirectToAnotherOriginDropsCredentials(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	other := &recorder{}
	otherSrv := httptest.NewServer(other) // same host, another port: another origin
	t.Cleanup(otherSrv.Close)
	client := newClient(t, testConfig())

	landing := otherSrv.URL + "/landing?api_key=echoed-secret&keep=1"
	start := bin.URL + "/redirect-to?api_key=query-secret&url=" + url.QueryEscape(landing)
	res, err := client.Do(context.Background(), credentialed(start))
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	assert.True(t, strings.HasPrefix(res.URL, otherSrv.URL), "final url %s", res.URL)

	seen := other.requests()
	require.Len(t, seen, 1)
	got := seen[0]
	for _, h := range credentialHeaderNames {
		assert.Empty(t, got.Header.Values(h), "header %s crossed the origin", h)
	}
	assert.Empty(t, got.Header.Get("Referer"), "the referer would carry the first URL's query")
	assert.Equal(t, "trace-1", got.Header.Get("X-Trace"), "headers that are not secret survive")
	q, err := url.ParseQuery(strings.SplitN(got.URL, "?", 2)[1])
	require.NoError(t, err)
	assert.Equal(t, "1", q.Get("keep"))
	assert.NotContains(t, got.URL, "secret")
}

func TestRedirectWithinOriginKeepsCredentials(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), credentialed(bin.URL+"/redirect-to?url=/anything/next"))
	require.NoError(t, err)
	require.Equal(t, 200, res.Status)
	e := decodeEcho(t, res.Body)
	assert.Equal(t, []string{"Bearer tok-123"}, e.Headers["Authorization"])
	assert.Equal(t, []string{"conn-789"}, e.Headers["X-Connection-Secret"])
	assert.True(t, strings.HasSuffix(e.URL, "/anything/next"), e.URL)
}

func TestRedirectBackToOriginStaysStripped(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	bounce := httptest.NewServer(http.RedirectHandler(bin.URL+"/anything/back", http.StatusFound))
	t.Cleanup(bounce.Close)
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), credentialed(bin.URL+"/redirect-to?url="+url.QueryEscape(bounce.URL)))
	require.NoError(t, err)
	require.Equal(t, 200, res.Status)
	e := decodeEcho(t, res.Body)
	for _, h := range credentialHeaderNames {
		assert.Empty(t, e.Headers[h], "header %s came back after a foreign hop", h)
	}
}

func TestRedirectResendingBodyToAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	other := &recorder{}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	client := newClient(t, testConfig())

	req := credentialed(bin.URL + "/redirect-to?status_code=307&url=" + url.QueryEscape(otherSrv.URL+"/take"))
	req.Method = http.MethodPost
	req.Header.Set("Content-Type", "application/json")
	req.Body = strings.NewReader(`{"client_secret":"s"}`)
	_, err := client.Do(context.Background(), req)
	assert.ErrorIs(t, err, outbound.ErrForbiddenRedirect)
	assert.Empty(t, other.requests())

	req.URL = bin.URL + "/redirect-to?status_code=307&url=/anything/same"
	req.Body = strings.NewReader(`{"client_secret":"s"}`)
	res, err := client.Do(context.Background(), req)
	require.NoError(t, err, "a 307 within the origin resends the body")
	assert.JSONEq(t, `{"client_secret":"s"}`, decodeEcho(t, res.Body).Data)
}

func TestRedirectToBlockedAddressIsRefused(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	inner := &recorder{}
	innerSrv := httptest.NewServer(inner)
	t.Cleanup(innerSrv.Close)
	port := mustPort(t, innerSrv.URL)
	client := newClient(t, testConfig()) // allows 127.0.0.1/32 only

	cases := []struct {
		name   string
		target string
		want   error
	}{
		{"unspecified reaches loopback", "http://0.0.0.0:" + port + "/", outbound.ErrBlockedAddress},
		{"other loopback", "http://127.0.0.2:" + port + "/", outbound.ErrBlockedAddress},
		{"v6 loopback", "http://[::1]:" + port + "/", outbound.ErrBlockedAddress},
		{"decimal", "http://2130706433:" + port + "/", outbound.ErrBlockedAddress},
		{"metadata", "http://169.254.169.254/latest/meta-data/", outbound.ErrBlockedAddress},
		{"file scheme", "file:///etc/passwd", outbound.ErrForbiddenURL},
		{"user info", "http://u:p@127.0.0.1:" + port + "/", outbound.ErrForbiddenURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/redirect-to?url=" + url.QueryEscape(tc.target)})
			assert.ErrorIs(t, err, tc.want)
		})
	}
	t.Cleanup(func() { assert.Empty(t, inner.requests(), "a redirect reached a blocked address") })
}

func TestRedirectLimit(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)

	cfg := testConfig()
	cfg.MaxRedirects = 3
	limited := newClient(t, cfg)
	_, err := limited.Do(context.Background(), outbound.Request{URL: bin.URL + "/redirect/4"})
	assert.ErrorIs(t, err, outbound.ErrTooManyRedirects)
	res, err := limited.Do(context.Background(), outbound.Request{URL: bin.URL + "/redirect/3"})
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)

	cfg.MaxRedirects = -1
	none := newClient(t, cfg)
	res, err = none.Do(context.Background(), outbound.Request{URL: bin.URL + "/redirect/1"})
	require.NoError(t, err, "with redirects off the 3xx itself is the answer")
	assert.Equal(t, http.StatusFound, res.Status)
}
