package outbound

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces every secret the Scrubber finds.
const Redacted = "[REDACTED]"

// alwaysSecretHeaders carry credentials whatever the connection: their values
// are redacted in full.
var alwaysSecretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"}

// Scrubber removes a connection's secrets from what APIQ stores about a
// call: request and response headers, bodies and URLs. It is safe for
// concurrent use.
type Scrubber struct {
	headers  map[string]bool
	params   []string
	replacer *strings.Replacer
}

// NewScrubber returns a Scrubber for the given secret values (API keys,
// tokens, passwords), the header names and query parameter names that
// carry secrets. Each value is also found URL-encoded (query and path
// style, either hex case), base64-encoded (standard and URL alphabets,
// padded or not) and JSON-escaped. Authorization, Proxy-Authorization,
// Cookie, Set-Cookie and X-Api-Key headers are always redacted in full.
func NewScrubber(values, headerNames, queryParams []string) *Scrubber {
	s := &Scrubber{headers: map[string]bool{}, params: queryParams}
	for _, h := range alwaysSecretHeaders {
		s.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range headerNames {
		s.headers[http.CanonicalHeaderKey(h)] = true
	}
	forms := map[string]bool{}
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, f := range encodedForms(v) {
			if f != "" {
				forms[f] = true
			}
		}
	}
	// strings.Replacer prefers the earlier pattern at the same position:
	// longest first, so a value is never replaced by a shorter prefix of it
	// and leaves a tail behind.
	ordered := make([]string, 0, len(forms))
	for f := range forms {
		ordered = append(ordered, f)
	}
	slices.SortFunc(ordered, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	pairs := make([]string, 0, 2*len(ordered))
	for _, f := range ordered {
		pairs = append(pairs, f, Redacted)
	}
	s.replacer = strings.NewReplacer(pairs...)
	return s
}

func encodedForms(v string) []string {
	forms := []string{
		v,
		url.QueryEscape(v),
		url.PathEscape(v),
		lowerHexEscapes(url.QueryEscape(v)),
		lowerHexEscapes(url.PathEscape(v)),
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawStdEncoding.EncodeToString([]byte(v)),
		base64.URLEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
	}
	if j, err := json.Marshal(v); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	return forms
}

// lowerHexEscapes rewrites %2F as %2f: encoders differ in hex case.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// String returns s with every secret value replaced.
func (s *Scrubber) String(v string) string { return s.replacer.Replace(v) }

// Body returns a copy of body with every secret value replaced.
func (s *Scrubber) Body(body []byte) []byte {
	if body == nil {
		return nil
	}
	return []byte(s.replacer.Replace(string(body)))
}

// Header returns a copy of h in which secret headers are redacted in full
// and secret values are replaced in all other headers.
func (s *Scrubber) Header(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for name, values := range h {
		scrubbed := make([]string, len(values))
		secret := s.headers[http.CanonicalHeaderKey(name)]
		for i, v := range values {
			if secret {
				scrubbed[i] = Redacted
			} else {
				scrubbed[i] = s.replacer.Replace(v)
			}
		}
		out[name] = scrubbed
	}
	return out
}

// URL returns rawURL with secret query parameters and user info redacted
// and secret values replaced anywhere else in it.
func (s *Scrubber) URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return s.replacer.Replace(rawURL)
	}
	if u.User != nil {
		u.User = url.User(Redacted)
	}
	if len(s.params) > 0 && u.RawQuery != "" {
		q := u.Query()
		for _, p := range s.params {
			if vs, ok := q[p]; ok {
				for i := range vs {
					vs[i] = Redacted
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	// The redaction marker comes out of Encode as %5BREDACTED%5D: keep it
	// readable, then replace values that hide elsewhere (path, fragment).
	out := strings.ReplaceAll(u.String(), url.QueryEscape(Redacted), Redacted)
	out = strings.ReplaceAll(out, url.PathEscape(Redacted), Redacted)
	return s.replacer.Replace(out)
}
