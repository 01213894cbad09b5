package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/domain/connection"
)

// Document is what a connection's OpenAPI document says about
// authentication: the defaults an auth input may leave out.
type Document struct {
	// Schemes are the document's security schemes (openapi.Result.SecuritySchemes).
	Schemes []openapi.SecurityScheme
	// BaseURL resolves relative OAuth URLs (the connection's base URL).
	BaseURL string
}

// Seal validates in, fills what it leaves out from the document's security
// schemes (an API key's name and location, OAuth URLs, through OpenID
// discovery for openIdConnect schemes), and seals its secrets in the vault
// under the connection's data key. The result carries no plaintext secret:
// only a masked hint, public settings and ciphertexts. Invalid input fails
// with *domain.Error values (ErrInvalid) naming the field ("auth.name").
func (m *Manager) Seal(ctx context.Context, tenant, connectionID string, in Input, doc Document) (connection.Credentials, error) {
	if tenant == "" || connectionID == "" {
		return connection.Credentials{}, errors.New("seal credentials: tenant and connection id are required")
	}
	if err := in.Validate(); err != nil {
		return connection.Credentials{}, err
	}
	in, err := m.resolve(ctx, in, doc)
	if err != nil {
		return connection.Credentials{}, err
	}
	creds := connection.Credentials{Type: in.Type, Public: map[string]string{}, Sealed: map[string]string{}}
	public := func(key, value string) {
		if value != "" {
			creds.Public[key] = value
		}
	}
	secrets := map[string]string{}
	public(PublicScheme, in.Scheme)
	switch in.Type {
	case TypeAPIKey:
		public(PublicName, in.Name)
		public(PublicIn, in.In)
		secrets[FieldAPIKey] = in.Key
		creds.Hint = mask(in.Key)
	case TypeBearer:
		secrets[FieldToken] = in.Token
		creds.Hint = mask(in.Token)
	case TypeBasic:
		public(PublicUsername, in.Username)
		secrets[FieldPassword] = in.Password
		creds.Hint = in.Username + ":" + dots
	case TypeOAuth2ClientCredentials, TypeOAuth2AuthorizationCode:
		public(PublicClientID, in.ClientID)
		public(PublicTokenURL, in.TokenURL)
		public(PublicAuthorizeURL, in.AuthorizeURL)
		public(PublicRevocationURL, in.RevocationURL)
		public(PublicScopes, strings.Join(in.Scopes, " "))
		if in.AuthStyle != AuthStyleAuto {
			public(PublicAuthStyle, in.AuthStyle)
		}
		if in.ClientSecret != "" {
			secrets[FieldClientSecret] = in.ClientSecret
		}
		creds.Hint = in.ClientID + ":" + dots
	}
	for field, value := range secrets {
		sealed, err := m.cfg.Vault.EncryptString(ctx, scope(tenant, connectionID, field), value)
		if err != nil {
			return connection.Credentials{}, fmt.Errorf("seal %s of connection %s: %w", field, connectionID, err)
		}
		creds.Sealed[field] = sealed
		if creds.KeyID, err = vault.KeyIDOf(sealed); err != nil {
			return connection.Credentials{}, fmt.Errorf("seal %s of connection %s: %w", field, connectionID, err)
		}
	}
	if len(creds.Public) == 0 {
		creds.Public = nil
	}
	if len(creds.Sealed) == 0 {
		creds.Sealed = nil
	}
	return creds, nil
}

// resolve fills in from the document what the input left out and checks
// that nothing needed is still missing.
func (m *Manager) resolve(ctx context.Context, in Input, doc Document) (Input, error) {
	if in.Type == TypeNone {
		return in, nil
	}
	needed := in.missingDefaults()
	s, err := pickScheme(in, doc.Schemes, needed)
	if err != nil {
		return in, err
	}
	if s != nil {
		in.Scheme = s.Name
		if err := m.applyScheme(ctx, &in, *s, doc.BaseURL); err != nil {
			return in, err
		}
	}
	var errs []error
	for _, field := range in.missingDefaults() {
		errs = append(errs, invalid(field, "required", fmt.Sprintf(
			"%s credentials need %s, and the document declares no security scheme that gives it", in.Type, field)))
	}
	if in.Type == TypeAPIKey && in.Name != "" && in.In != InQuery && !tokenName.MatchString(in.Name) {
		errs = append(errs, invalid("name", "invalid", fmt.Sprintf("the API key name %q is not a valid header or cookie name", in.Name)))
	}
	if in.Type == TypeAPIKey && in.In == InCookie && !cookieValue.MatchString(in.Key) {
		errs = append(errs, invalid("key", "invalid", "the API key holds characters a cookie cannot carry (spaces, quotes, commas, semicolons or backslashes)"))
	}
	if in.AuthStyle == "" && (in.Type == TypeOAuth2ClientCredentials || in.Type == TypeOAuth2AuthorizationCode) {
		in.AuthStyle = AuthStyleAuto
	}
	return in, errors.Join(errs...)
}

// missingDefaults lists the fields the type needs that the document may
// provide and the input left out.
func (in Input) missingDefaults() []string {
	var missing []string
	add := func(field, value string) {
		if value == "" {
			missing = append(missing, field)
		}
	}
	switch in.Type {
	case TypeAPIKey:
		add("name", in.Name)
		add("in", in.In)
	case TypeOAuth2ClientCredentials:
		add("token_url", in.TokenURL)
	case TypeOAuth2AuthorizationCode:
		add("authorize_url", in.AuthorizeURL)
		add("token_url", in.TokenURL)
	}
	return missing
}

// fits reports whether a security scheme can be satisfied by credentials
// of type t.
func fits(t string, s openapi.SecurityScheme) bool {
	hasFlow := func(kind string) bool {
		for _, f := range s.Flows {
			if f.Type == kind {
				return true
			}
		}
		return false
	}
	switch t {
	case TypeAPIKey:
		return s.Type == "apiKey"
	case TypeBearer:
		return s.Type == "http" && s.Scheme == "bearer" || s.Type == "oauth2" || s.Type == "openIdConnect"
	case TypeBasic:
		return s.Type == "http" && s.Scheme == "basic"
	case TypeOAuth2ClientCredentials:
		return s.Type == "oauth2" && hasFlow("clientCredentials") || s.Type == "openIdConnect"
	case TypeOAuth2AuthorizationCode:
		return s.Type == "oauth2" && hasFlow("authorizationCode") || s.Type == "openIdConnect"
	}
	return false
}

// pickScheme finds the scheme the credentials satisfy: the one named, else
// the only fitting one. Several fitting schemes are ambiguous only when the
// input still needs defaults from one of them.
func pickScheme(in Input, schemes []openapi.SecurityScheme, needed []string) (*openapi.SecurityScheme, error) {
	if in.Scheme != "" {
		for i := range schemes {
			if schemes[i].Name != in.Scheme {
				continue
			}
			if !fits(in.Type, schemes[i]) {
				return nil, invalid("scheme", "scheme_mismatch", fmt.Sprintf(
					"the document's security scheme %q (%s) cannot take %s credentials", in.Scheme, describe(schemes[i]), in.Type))
			}
			return &schemes[i], nil
		}
		return nil, invalid("scheme", "unknown_scheme", fmt.Sprintf("the document declares no security scheme %q", in.Scheme))
	}
	var fitting []*openapi.SecurityScheme
	for i := range schemes {
		if fits(in.Type, schemes[i]) {
			fitting = append(fitting, &schemes[i])
		}
	}
	switch {
	case len(fitting) == 1:
		return fitting[0], nil
	case len(fitting) > 1 && len(needed) > 0:
		names := make([]string, len(fitting))
		for i, s := range fitting {
			names[i] = s.Name
		}
		return nil, invalid("scheme", "ambiguous_scheme", fmt.Sprintf(
			"the document declares several security schemes for %s credentials (%s): name one in scheme", in.Type, strings.Join(names, ", ")))
	}
	return nil, nil
}

func describe(s openapi.SecurityScheme) string {
	if s.Scheme != "" {
		return s.Type + " " + s.Scheme
	}
	return s.Type
}

// applyScheme fills the input's missing settings from the scheme.
func (m *Manager) applyScheme(ctx context.Context, in *Input, s openapi.SecurityScheme, baseURL string) error {
	setIfEmpty := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	switch in.Type {
	case TypeAPIKey:
		setIfEmpty(&in.Name, s.ParameterName)
		setIfEmpty(&in.In, s.In)
		return nil
	case TypeOAuth2ClientCredentials, TypeOAuth2AuthorizationCode:
	default:
		return nil
	}
	if len(in.missingDefaults()) == 0 && in.RevocationURL != "" {
		return nil
	}
	if s.Type == "openIdConnect" {
		if s.OpenIDConnectURL == "" {
			return nil
		}
		endpoints, err := m.discover(ctx, resolveURL(baseURL, s.OpenIDConnectURL))
		if err != nil && len(in.missingDefaults()) == 0 {
			// Only the revocation endpoint was wanted: tokens will not be
			// revoked on delete, which is no reason to refuse the credentials.
			m.cfg.Logger.WarnContext(ctx, "openid discovery failed; no revocation endpoint", "scheme", s.Name, "error", err)
			return nil
		}
		if err != nil {
			return invalid("scheme", "discovery_failed", fmt.Sprintf(
				"the OpenID configuration of scheme %q could not be read: %v; give the URLs instead", s.Name, err))
		}
		setIfEmpty(&in.AuthorizeURL, endpoints.AuthorizationEndpoint)
		setIfEmpty(&in.TokenURL, endpoints.TokenEndpoint)
		setIfEmpty(&in.RevocationURL, endpoints.RevocationEndpoint)
		return nil
	}
	kind := map[string]string{TypeOAuth2ClientCredentials: "clientCredentials", TypeOAuth2AuthorizationCode: "authorizationCode"}[in.Type]
	for _, f := range s.Flows {
		if f.Type != kind {
			continue
		}
		var errs []error
		for _, u := range []struct {
			field string
			dst   *string
			raw   string
		}{
			{"token_url", &in.TokenURL, f.TokenURL},
			{"authorize_url", &in.AuthorizeURL, f.AuthorizationURL},
		} {
			if *u.dst != "" || u.raw == "" || (u.field == "authorize_url" && in.Type != TypeOAuth2AuthorizationCode) {
				continue
			}
			resolved := resolveURL(baseURL, u.raw)
			if err := checkEndpoint(resolved); err != nil {
				errs = append(errs, invalid(u.field, "invalid", fmt.Sprintf("the scheme %q gives %q: %v", s.Name, u.raw, err)))
				continue
			}
			*u.dst = resolved
		}
		return errors.Join(errs...)
	}
	return nil
}

// resolveURL resolves a URL the document may give relative to its server.
func resolveURL(base, ref string) string {
	r, err := url.Parse(ref)
	if err != nil || r.IsAbs() || base == "" {
		return ref
	}
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

const dots = "••••"

// mask renders a secret for people: a recognisable prefix such as "sk_live_"
// and the last four characters of long secrets ("sk_live_…4242"), nothing of
// short ones.
func mask(secret string) string {
	r := []rune(secret)
	if len(r) < 12 {
		return dots
	}
	prefix, head := "", string(r[:8])
	if i := strings.LastIndexAny(head, "_-"); i > 0 && len(r)-utf8.RuneCountInString(head[:i+1]) >= 12 {
		prefix = head[:i+1]
	}
	return prefix + "…" + string(r[len(r)-4:])
}
