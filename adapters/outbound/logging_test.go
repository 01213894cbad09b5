package outbound_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecretsStayOutOfLogsAndErrors makes calls that succeed, get blocked,
// fail on the network, time out on redirects and get refused, each with a
// secret in the query string and the headers, and checks that neither the
// debug log nor any returned error quotes the secret.
func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	t.Parallel()
	const secret = "canary-3f9a1c"
	logs := &syncBuffer{}
	cfg := testConfig()
	cfg.MaxRedirects = 1
	client, err := outbound.New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	bin := newHTTPBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	q := "?api_key=" + secret
	urls := []string{
		bin.URL + "/get" + q,
		bin.URL + "/status/503" + q,
		bin.URL + "/redirect/3" + q,
		bin.URL + "/redirect-to?url=" + url.QueryEscape("http://169.254.169.254/"+q) + "&k=" + secret,
		"http://10.0.0.1/" + q,
		closed + "/" + q,
		"ftp://127.0.0.1/" + q,
		"http://u:" + secret + "@127.0.0.1/",
	}
	for _, u := range urls {
		_, err := client.Do(context.Background(), outbound.Request{
			URL:               u,
			Header:            http.Header{"Authorization": {"Bearer " + secret}},
			SecretQueryParams: []string{"api_key"},
		})
		if err != nil {
			assert.NotContains(t, err.Error(), secret, u)
		}
	}
	assert.Contains(t, logs.String(), "outbound attempt", "the debug log was written")
	assert.NotContains(t, logs.String(), secret)
}

// TestEnvironmentProxiesAreIgnored: a proxy would dial on the caller's
// behalf, past the address checks.
func TestEnvironmentProxiesAreIgnored(t *testing.T) {
	proxy := &recorder{}
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(proxySrv.Close)
	t.Setenv("HTTP_PROXY", proxySrv.URL)
	t.Setenv("http_proxy", proxySrv.URL)
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())

	res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/get"})
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	assert.Empty(t, proxy.requests())
}
