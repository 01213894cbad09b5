package outbound_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// plainGet fetches rawURL with net/http alone, as the reference.
func plainGet(t *testing.T, rawURL string) []byte {
	t.Helper()
	resp, err := http.Get(rawURL)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return body
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestResponseSizeCap(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	cases := []struct {
		name           string
		path           string
		allowTruncated bool
		wantErr        bool
		wantLen        int
	}{
		{"under the cap", "/bytes/900?seed=7", false, false, 900},
		{"exactly the cap", "/bytes/1000?seed=7", false, false, 1000},
		{"over the cap fails", "/bytes/2048?seed=7", false, true, 1000},
		{"over the cap, truncation accepted", "/bytes/2048?seed=7", true, false, 1000},
		{"chunked without length", "/stream-bytes/5000?seed=7&chunk_size=100", false, true, 1000},
	}
	cfg := testConfig()
	cfg.MaxResponseBytes = 1000
	client := newClient(t, cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			full := plainGet(t, bin.URL+tc.path)
			res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + tc.path, AllowTruncated: tc.allowTruncated})
			if tc.wantErr {
				assert.ErrorIs(t, err, outbound.ErrResponseTooLarge)
			} else {
				assert.NoError(t, err)
			}
			require.NotNil(t, res)
			assert.Equal(t, 200, res.Status)
			require.Len(t, res.Body, tc.wantLen)
			assert.Equal(t, full[:tc.wantLen], res.Body)
			assert.Equal(t, len(full) > tc.wantLen, res.Truncated)
			assert.Equal(t, digest(full[:tc.wantLen]), res.BodySHA256, "digest of what was read")
			assert.Len(t, res.Attempts, 1, "an oversized body is not retried")
		})
	}
}

func TestPerRequestResponseCap(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())
	res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/bytes/64", MaxResponseBytes: 10, AllowTruncated: true})
	require.NoError(t, err)
	assert.Len(t, res.Body, 10)
	assert.True(t, res.Truncated)
}

func TestRequestBodyCap(t *testing.T) {
	t.Parallel()
	target := &recorder{}
	srv := newRecorderServer(t, target)
	cfg := testConfig()
	cfg.MaxRequestBytes = 10
	client := newClient(t, cfg)

	_, err := client.Do(context.Background(), outbound.Request{Method: http.MethodPut, URL: srv, Body: strings.NewReader("0123456789A")})
	assert.ErrorIs(t, err, outbound.ErrRequestTooLarge)
	assert.Empty(t, target.requests())

	_, err = client.Do(context.Background(), outbound.Request{Method: http.MethodPut, URL: srv, Body: strings.NewReader("0123456789")})
	require.NoError(t, err)
	require.Len(t, target.requests(), 1)
	assert.Equal(t, "0123456789", target.requests()[0].Body)
}
