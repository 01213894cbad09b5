package outbound_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/outbound"
)

const canary = "sk_live/Canary+42=?&"

var percentHex = regexp.MustCompile("%[0-9A-F]{2}")

func TestScrubberBodies(t *testing.T) {
	t.Parallel()
	s := outbound.NewScrubber([]string{canary, ""}, nil, nil)
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"raw", "token=" + canary + ";", "token=[REDACTED];"},
		{"query escaped", "q=" + url.QueryEscape(canary), "q=[REDACTED]"},
		{"path escaped", "/v1/" + url.PathEscape(canary) + "/x", "/v1/[REDACTED]/x"},
		{"lower-case hex escapes", "q=" + percentHex.ReplaceAllStringFunc(url.QueryEscape(canary), strings.ToLower), "q=[REDACTED]"},
		{"base64", "b=" + base64.StdEncoding.EncodeToString([]byte(canary)), "b=[REDACTED]"},
		{"base64 url", "b=" + base64.RawURLEncoding.EncodeToString([]byte(canary)), "b=[REDACTED]"},
		{"json escaped", `{"k":"sk_live/Canary+42=?\u0026"}`, `{"k":"[REDACTED]"}`},
		{"twice", canary + canary, "[REDACTED][REDACTED]"},
		{"nothing secret", "hello world", "hello world"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tc.in)
			assert.Equal(t, tc.want, string(s.Body(in)))
			assert.Equal(t, tc.in, string(in), "the input is not modified")
			assert.Equal(t, tc.want, s.String(tc.in))
		})
	}
	assert.Nil(t, s.Body(nil))
}

func TestScrubberHeaders(t *testing.T) {
	t.Parallel()
	s := outbound.NewScrubber([]string{"tok-123"}, []string{"x-connection-secret"}, nil)
	in := http.Header{
		"Authorization":       {"Bearer anything"},
		"Proxy-Authorization": {"Basic xyz"},
		"Cookie":              {"a=1", "b=2"},
		"Set-Cookie":          {"sid=s; HttpOnly"},
		"X-Api-Key":           {"k"},
		"X-Connection-Secret": {"c"},
		"X-Echo":              {"you sent tok-123"},
		"Content-Type":        {"application/json"},
	}
	out := s.Header(in)
	for _, h := range []string{"Authorization", "Proxy-Authorization", "Set-Cookie", "X-Api-Key", "X-Connection-Secret"} {
		assert.Equal(t, []string{outbound.Redacted}, out[h], h)
	}
	assert.Equal(t, []string{outbound.Redacted, outbound.Redacted}, out["Cookie"])
	assert.Equal(t, []string{"you sent [REDACTED]"}, out["X-Echo"])
	assert.Equal(t, []string{"application/json"}, out["Content-Type"])
	assert.Equal(t, "Bearer anything", in.Get("Authorization"), "the input is not modified")
	assert.Nil(t, s.Header(nil))
}

func TestScrubberURL(t *testing.T) {
	t.Parallel()
	s := outbound.NewScrubber([]string{"v-secret"}, nil, []string{"api_key"})
	cases := map[string]string{
		"http://h/p?api_key=anything&x=1": "http://h/p?api_key=[REDACTED]&x=1",
		"http://h/v-secret/p?y=v-secret":  "http://h/[REDACTED]/p?y=[REDACTED]",
		"http://u:pw@h/p":                 "http://[REDACTED]@h/p",
		"http://h/p#v-secret":             "http://h/p#[REDACTED]",
	}
	for in, want := range cases {
		assert.Equal(t, want, s.URL(in), in)
	}
}

// TestScrubbingAnEchoedCall runs a real call whose server echoes the
// credentials back, then scrubs what would be stored: no trace of the
// secret may remain.
func TestScrubbingAnEchoedCall(t *testing.T) {
	t.Parallel()
	bin := newHTTPBin(t)
	client := newClient(t, testConfig())
	req := outbound.Request{
		URL: bin.URL + "/anything?api_key=" + url.QueryEscape(canary),
		Header: http.Header{
			"Authorization": {"Bearer " + canary},
			"X-Custom-Auth": {canary},
		},
		SecretHeaders:     []string{"X-Custom-Auth"},
		SecretQueryParams: []string{"api_key"},
	}
	res, err := client.Do(context.Background(), req)
	require.NoError(t, err)
	require.Contains(t, string(res.Body), "Canary", "httpbin echoes the secret back")

	s := outbound.NewScrubber([]string{canary}, req.SecretHeaders, req.SecretQueryParams)
	stored := strings.Join([]string{
		s.URL(req.URL), s.URL(res.URL), string(s.Body(res.Body)),
		headerText(s.Header(req.Header)), headerText(s.Header(res.Header)),
	}, "\n")
	assert.NotContains(t, stored, "Canary")
	assert.Contains(t, stored, outbound.Redacted)
}

func headerText(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}
