package credentials

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/apiq/apiq/adapters/outbound"
	"github.com/apiq/apiq/domain/connection"
)

// Applied says what Apply put on a request: the secret values it sent and
// the headers and query parameters that carry them, for a Scrubber.
type Applied struct {
	// Values are the secrets sent (API key, token, password and the
	// user:password pair of basic auth).
	Values []string
	// Headers name the request headers that carry them.
	Headers []string
	// QueryParams name the query parameters that carry them.
	QueryParams []string
}

// Scrubber returns a scrubber that removes the applied secrets from what is
// stored about the call.
func (a Applied) Scrubber() *outbound.Scrubber {
	return outbound.NewScrubber(a.Values, a.Headers, a.QueryParams)
}

func (a Applied) merge(b Applied) Applied {
	join := func(x, y []string) []string {
		out := slices.Clone(x)
		for _, v := range y {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	return Applied{Values: join(a.Values, b.Values), Headers: join(a.Headers, b.Headers), QueryParams: join(a.QueryParams, b.QueryParams)}
}

// cookieValue is what RFC 6265 lets a cookie value hold unquoted.
var cookieValue = regexp.MustCompile(`^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$`)

// used tells Do which OAuth access token a call carried.
type used struct {
	// sealed is the vault ciphertext of the access token (authorization code).
	sealed string
	// token is the access token itself.
	token string
	// refreshed says the token was obtained during this Apply.
	refreshed bool
}

// Apply decrypts the connection's credentials and puts them on req: the API
// key in its header, query parameter or cookie; Authorization: Bearer or
// Basic; an OAuth2 access token, fetched (client credentials) or refreshed
// (authorization code) first when it is missing or about to expire. The
// headers and query parameters it sets are added to req's SecretHeaders and
// SecretQueryParams, so a redirect leaving the origin drops them. Errors:
// ErrNotAuthorized, ErrReauthorizationRequired (a refused refresh or token
// request), vault errors (vault.ErrKeyDestroyed after deletion).
func (m *Manager) Apply(ctx context.Context, req *outbound.Request, tenant, connectionID string, creds connection.Credentials) (Applied, error) {
	applied, _, err := m.apply(ctx, req, tenant, connectionID, creds)
	return applied, err
}

func (m *Manager) apply(ctx context.Context, req *outbound.Request, tenant, connectionID string, creds connection.Credentials) (Applied, used, error) {
	open := func(field string) (string, error) {
		sealed, ok := creds.Sealed[field]
		if !ok {
			return "", fmt.Errorf("apply %s credentials of connection %s: no sealed %s", creds.Type, connectionID, field)
		}
		v, err := m.cfg.Vault.DecryptString(ctx, scope(tenant, connectionID, field), sealed)
		if err != nil {
			return "", fmt.Errorf("apply %s credentials of connection %s: %w", creds.Type, connectionID, err)
		}
		return v, nil
	}
	var a Applied
	switch creds.Type {
	case TypeNone, "":
		return a, used{}, nil
	case TypeAPIKey:
		key, err := open(FieldAPIKey)
		if err != nil {
			return a, used{}, err
		}
		name, in := creds.Public[PublicName], creds.Public[PublicIn]
		if name == "" {
			return a, used{}, fmt.Errorf("apply api_key credentials of connection %s: no key name", connectionID)
		}
		a.Values = []string{key}
		switch in {
		case InQuery:
			u, err := url.Parse(req.URL)
			if err != nil {
				return a, used{}, fmt.Errorf("apply api_key credentials of connection %s: unparsable url", connectionID)
			}
			u.RawQuery = setQueryParam(u.RawQuery, name, key)
			req.URL = u.String()
			a.QueryParams = []string{name}
		case InCookie:
			if !cookieValue.MatchString(key) {
				return a, used{}, fmt.Errorf("apply api_key credentials of connection %s: the key holds characters a cookie cannot carry", connectionID)
			}
			header := cloneHeader(req)
			cookie := name + "=" + key
			if prev := header.Get("Cookie"); prev != "" {
				cookie = prev + "; " + cookie
			}
			header.Set("Cookie", cookie)
			a.Headers = []string{"Cookie"}
		default:
			cloneHeader(req).Set(name, key)
			a.Headers = []string{http.CanonicalHeaderKey(name)}
		}
	case TypeBearer:
		token, err := open(FieldToken)
		if err != nil {
			return a, used{}, err
		}
		a = bearer(req, token)
	case TypeBasic:
		password, err := open(FieldPassword)
		if err != nil {
			return a, used{}, err
		}
		user := creds.Public[PublicUsername]
		pair := user + ":" + password
		cloneHeader(req).Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pair)))
		a = Applied{Values: []string{password, pair}, Headers: []string{"Authorization"}}
	case TypeOAuth2ClientCredentials:
		token, refreshed, err := m.clientCredentialsToken(ctx, tenant, connectionID, creds)
		if err != nil {
			return a, used{}, err
		}
		return bearer(req, token), used{token: token, refreshed: refreshed}, nil
	case TypeOAuth2AuthorizationCode:
		t, refreshed, err := m.authorizationCodeToken(ctx, tenant, connectionID, creds)
		if err != nil {
			return a, used{}, err
		}
		return bearer(req, t.access), used{sealed: t.accessSealed, token: t.access, refreshed: refreshed}, nil
	default:
		return a, used{}, fmt.Errorf("apply credentials of connection %s: unknown type %q", connectionID, creds.Type)
	}
	markSecret(req, a)
	return a, used{}, nil
}

func bearer(req *outbound.Request, token string) Applied {
	cloneHeader(req).Set("Authorization", "Bearer "+token)
	a := Applied{Values: []string{token}, Headers: []string{"Authorization"}}
	markSecret(req, a)
	return a
}

// cloneHeader gives req a header of its own before Apply writes to it: the
// caller's header may be shared between requests.
func cloneHeader(req *outbound.Request) http.Header {
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	return req.Header
}

func markSecret(req *outbound.Request, a Applied) {
	for _, h := range a.Headers {
		if !slices.Contains(req.SecretHeaders, h) {
			req.SecretHeaders = append(slices.Clip(req.SecretHeaders), h)
		}
	}
	for _, p := range a.QueryParams {
		if !slices.Contains(req.SecretQueryParams, p) {
			req.SecretQueryParams = append(slices.Clip(req.SecretQueryParams), p)
		}
	}
}

// setQueryParam replaces name's values in a raw query with value, leaving
// the other parameters exactly as the caller encoded them.
func setQueryParam(rawQuery, name, value string) string {
	var kept []string
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(append(kept, url.QueryEscape(name)+"="+url.QueryEscape(value)), "&")
}

// Do applies the connection's credentials to req and sends it through the
// outbound client. For OAuth2 connections a 401 answer gets one more try
// with new tokens (a token fetched again, or refreshed unless another
// process already did); a 401 to fresh tokens is ErrReauthorizationRequired,
// returned with the Result. Applied covers every secret sent, for scrubbing
// the Result before anything stores it.
func (m *Manager) Do(ctx context.Context, tenant, connectionID string, creds connection.Credentials, req outbound.Request) (*outbound.Result, Applied, error) {
	oauth := creds.Type == TypeOAuth2ClientCredentials || creds.Type == TypeOAuth2AuthorizationCode
	var body []byte
	if oauth && req.Body != nil {
		// A 401 means the request was not processed: it may be sent again,
		// so its body is kept.
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, Applied{}, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	send := func(ctx context.Context) (*outbound.Result, Applied, used, error) {
		r := req
		if body != nil {
			r.Body = bytes.NewReader(body)
		}
		applied, u, err := m.apply(ctx, &r, tenant, connectionID, creds)
		if err != nil {
			return nil, applied, u, err
		}
		res, err := m.cfg.Outbound.Do(ctx, r)
		return res, applied, u, err
	}
	res, applied, u, err := send(ctx)
	if err != nil || !oauth || res.Status != http.StatusUnauthorized {
		return res, applied, err
	}
	if u.refreshed {
		return res, applied, reauthorization("the API answered 401 to freshly issued tokens", nil)
	}
	m.cfg.Logger.InfoContext(ctx, "oauth token refused by the API; renewing it", "connection", connectionID, "type", creds.Type)
	if err := m.renew(ctx, tenant, connectionID, creds, u); err != nil {
		return res, applied, err
	}
	res2, applied2, _, err := send(ctx)
	applied = applied.merge(applied2)
	if res2 == nil {
		// Nothing was sent again: the 401 stays the answer.
		return res, applied, err
	}
	if err != nil {
		return res2, applied, err
	}
	if res2.Status == http.StatusUnauthorized {
		return res2, applied, reauthorization("the API answered 401 to renewed tokens", nil)
	}
	return res2, applied, nil
}

// renew replaces an access token the API refused.
func (m *Manager) renew(ctx context.Context, tenant, connectionID string, creds connection.Credentials, u used) error {
	if creds.Type == TypeOAuth2ClientCredentials {
		m.dropClientToken(tenant, connectionID, u.token)
		return nil
	}
	_, err := m.refreshAuthorizationCode(ctx, tenant, connectionID, u.sealed, fingerprint(creds))
	return err
}
