package outbound_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

// TestDefaultConfigBlocksInternalAddresses points the default caller at a
// live loopback server through every spelling of an internal address; none
// may reach it, and each must fail as a blocked address.
func TestDefaultConfigBlocksInternalAddresses(t *testing.T) {
	t.Parallel()
	target := &recorder{}
	srv := httptest.NewServer(target)
	t.Cleanup(srv.Close)
	port := mustPort(t, srv.URL)
	client := newClient(t, outbound.Config{})

	cases := []struct {
		name string
		url  string
	}{
		{"loopback", "http://127.0.0.1:" + port + "/"},
		{"loopback other", "http://127.0.0.2:" + port + "/"},
		{"localhost name", "http://localhost:" + port + "/"},
		{"decimal", "http://2130706433:" + port + "/"},
		{"octal", "http://0177.0.0.1:" + port + "/"},
		{"octal single", "http://017700000001:" + port + "/"},
		{"hex dotted", "http://0x7f.0.0.1:" + port + "/"},
		{"hex single", "http://0x7f000001:" + port + "/"},
		{"short form", "http://127.1:" + port + "/"},
		{"trailing dot", "http://127.0.0.1.:" + port + "/"},
		{"unspecified v4", "http://0.0.0.0:" + port + "/"},
		{"zero short", "http://0:" + port + "/"},
		{"mapped v6", "http://[::ffff:127.0.0.1]:" + port + "/"},
		{"mapped v6 hex", "http://[::ffff:7f00:1]:" + port + "/"},
		{"unspecified v6", "http://[::]:" + port + "/"},
		{"loopback v6", "http://[::1]:" + port + "/"},
		{"metadata v4", "http://169.254.169.254/latest/meta-data/"},
		{"metadata v6", "http://[fd00:ec2::254]/latest/meta-data/"},
		{"private 10", "http://10.0.0.1/"},
		{"private 172", "http://172.16.0.1/"},
		{"private 192", "http://192.168.1.1/"},
		{"cgnat", "http://100.64.0.1/"},
		{"multicast v4", "http://224.0.0.1/"},
		{"broadcast", "http://255.255.255.255/"},
		{"link-local v6", "http://[fe80::1]/"},
		{"multicast v6", "http://[ff02::1]/"},
		{"nat64 loopback", "http://[64:ff9b::7f00:1]/"},
		{"6to4 private", "http://[2002:a00:1::]/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := client.Do(context.Background(), outbound.Request{URL: tc.url})
			require.Error(t, err)
			assert.ErrorIs(t, err, outbound.ErrBlockedAddress)
			var blocked *outbound.BlockedAddressError
			if assert.True(t, errors.As(err, &blocked), "error %v", err) {
				assert.NotEmpty(t, blocked.Address)
				assert.NotEmpty(t, blocked.Reason)
			}
			if res != nil {
				assert.Zero(t, res.Status)
			}
		})
	}
	t.Cleanup(func() { assert.Empty(t, target.requests(), "a blocked address reached the server") })
}

func TestAllowlistPermitsOnlyWhatItNames(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	port := mustPort(t, bin.URL)
	client := newClient(t, outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})

	res, err := client.Do(context.Background(), outbound.Request{URL: bin.URL + "/get?x=1"})
	require.NoError(t, err)
	assert.Equal(t, 200, res.Status)
	e := decodeEcho(t, res.Body)
	assert.Equal(t, []string{"APIQ-outbound/1"}, e.Headers["User-Agent"])

	blocked := []string{
		"http://127.0.0.2:" + port + "/get", // loopback, but outside the /32
		"http://0.0.0.0:" + port + "/get",   // reaches the same server on Linux
		"http://[::1]:" + port + "/get",
		"http://2130706433:" + port + "/get", // decodes to the allowed address: still refused as ambiguous
	}
	for _, u := range blocked {
		_, err := client.Do(context.Background(), outbound.Request{URL: u})
		assert.ErrorIs(t, err, outbound.ErrBlockedAddress, u)
	}
}

func TestForbiddenURLs(t *testing.T) {
	t.Parallel()
	client := newClient(t, testConfig())
	cases := map[string]string{
		"file scheme":  "file:///etc/passwd",
		"ftp scheme":   "ftp://127.0.0.1/",
		"gopher":       "gopher://127.0.0.1:70/",
		"user info":    "http://user:s3cr3t@127.0.0.1/",
		"no host":      "http:///path",
		"relative":     "/relative/path",
		"unparsable":   "http://[::1/",
		"empty scheme": "//127.0.0.1/",
	}
	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := client.Do(context.Background(), outbound.Request{URL: u})
			assert.ErrorIs(t, err, outbound.ErrForbiddenURL)
			assert.Nil(t, res)
			assert.NotContains(t, err.Error(), "s3cr3t", "the error must not quote credentials")
		})
	}
}

func mustPort(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return u.Port()
}
