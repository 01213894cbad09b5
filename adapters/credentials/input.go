package credentials

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/apiq/apiq/domain"
)

// Credential types: the "type" of a connection's auth object.
const (
	TypeNone                    = "none"
	TypeAPIKey                  = "api_key"
	TypeBearer                  = "bearer"
	TypeBasic                   = "basic"
	TypeOAuth2ClientCredentials = "oauth2_client_credentials"
	TypeOAuth2AuthorizationCode = "oauth2_authorization_code"
)

// Where an API key goes.
const (
	InHeader = "header"
	InQuery  = "query"
	InCookie = "cookie"
)

// How an OAuth2 client authenticates at the token endpoint.
const (
	// AuthStyleAuto tries HTTP Basic, then form parameters (the default).
	AuthStyleAuto = "auto"
	// AuthStyleHeader sends client_id and client_secret as HTTP Basic.
	AuthStyleHeader = "header"
	// AuthStyleParams sends client_id and client_secret as form parameters.
	AuthStyleParams = "params"
)

// Input is the auth object of a connection request, as clients send it:
// {"type": "api_key", "key": "…"}, {"type": "basic", "username": "…",
// "password": "…"}, {"type": "oauth2_client_credentials", "client_id": "…",
// "client_secret": "…"}… Settings the document's security schemes provide
// (an API key's name and location, OAuth URLs) may be left out.
type Input struct {
	// Type is none, api_key, bearer, basic, oauth2_client_credentials or
	// oauth2_authorization_code.
	Type string `json:"type"`
	// Scheme names the document's security scheme these credentials
	// satisfy; needed only when several schemes could fill in the defaults.
	Scheme string `json:"scheme,omitempty"`

	// Key is the API key (api_key).
	Key string `json:"key,omitempty"`
	// Name is the header, query parameter or cookie carrying the API key.
	Name string `json:"name,omitempty"`
	// In is where the API key goes: header, query or cookie.
	In string `json:"in,omitempty"`

	// Token is the bearer token (bearer).
	Token string `json:"token,omitempty"`

	// Username and Password are the basic credentials (basic).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`

	// ClientID and ClientSecret identify the OAuth2 client; the secret is
	// optional for a public client of the authorization-code flow (PKCE).
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// TokenURL, AuthorizeURL and RevocationURL are the provider's endpoints
	// (RFC 6749, RFC 7009); the document's scheme provides the first two.
	TokenURL      string `json:"token_url,omitempty"`
	AuthorizeURL  string `json:"authorize_url,omitempty"`
	RevocationURL string `json:"revocation_url,omitempty"`
	// Scopes are requested from the provider.
	Scopes []string `json:"scopes,omitempty"`
	// AuthStyle is how the client authenticates at the token endpoint:
	// auto (default), header or params.
	AuthStyle string `json:"auth_style,omitempty"`
}

// typeRules lists, per type, the input fields it requires and those it
// accepts; a field given to a type that does not use it is an error, so a
// secret never goes silently unused.
var typeRules = map[string]struct{ required, optional []string }{
	TypeNone:   {},
	TypeAPIKey: {required: []string{"key"}, optional: []string{"scheme", "name", "in"}},
	TypeBearer: {required: []string{"token"}, optional: []string{"scheme"}},
	TypeBasic:  {required: []string{"username", "password"}, optional: []string{"scheme"}},
	TypeOAuth2ClientCredentials: {required: []string{"client_id", "client_secret"},
		optional: []string{"scheme", "token_url", "revocation_url", "scopes", "auth_style"}},
	TypeOAuth2AuthorizationCode: {required: []string{"client_id"},
		optional: []string{"scheme", "client_secret", "token_url", "authorize_url", "revocation_url", "scopes", "auth_style"}},
}

// Types lists the credential types in the order the API documents them.
func Types() []string {
	return []string{TypeNone, TypeAPIKey, TypeBearer, TypeBasic, TypeOAuth2ClientCredentials, TypeOAuth2AuthorizationCode}
}

// FieldPrefix is prepended to field names in validation errors: the auth
// object is the "auth" member of a connection request.
const FieldPrefix = "auth."

// fields returns the input's fields by their JSON names ("scopes" joined).
func (in Input) fields() map[string]string {
	return map[string]string{
		"scheme": in.Scheme, "key": in.Key, "name": in.Name, "in": in.In, "token": in.Token,
		"username": in.Username, "password": in.Password, "client_id": in.ClientID,
		"client_secret": in.ClientSecret, "token_url": in.TokenURL, "authorize_url": in.AuthorizeURL,
		"revocation_url": in.RevocationURL, "scopes": strings.Join(in.Scopes, " "), "auth_style": in.AuthStyle,
	}
}

var (
	// tokenName is an RFC 9110 token: what header and cookie names may be.
	tokenName = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	// scopeToken is an RFC 6749 scope token: printable ASCII but space, " and \.
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

// Validate checks what does not depend on the document: a known type, the
// fields it requires and no others, well-formed names, URLs and scopes.
// Every problem is a *domain.Error (ErrInvalid) naming its field
// ("auth.key"); several are joined.
func (in Input) Validate() error {
	rules, ok := typeRules[in.Type]
	if !ok {
		if in.Type == "" {
			return invalid("type", "required", "the credential type is required (one of "+strings.Join(Types(), ", ")+")")
		}
		return invalid("type", "unsupported_type", fmt.Sprintf("unknown credential type %q (one of %s)", in.Type, strings.Join(Types(), ", ")))
	}
	var errs []error
	fields := in.fields()
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		value := fields[name]
		switch {
		case slices.Contains(rules.required, name) && strings.TrimSpace(value) == "":
			errs = append(errs, invalid(name, "required", fmt.Sprintf("%s credentials need %s", in.Type, name)))
		case value != "" && !slices.Contains(rules.required, name) && !slices.Contains(rules.optional, name):
			errs = append(errs, invalid(name, "not_applicable", fmt.Sprintf("%s credentials do not use %s", in.Type, name)))
		}
	}
	if in.In != "" && in.In != InHeader && in.In != InQuery && in.In != InCookie {
		errs = append(errs, invalid("in", "invalid", "an API key goes in header, query or cookie"))
	}
	if in.Name != "" && in.In != InQuery && !tokenName.MatchString(in.Name) {
		errs = append(errs, invalid("name", "invalid", "a header or cookie name may hold letters, digits and !#$%&'*+-.^_`|~ only"))
	}
	if strings.ContainsAny(in.Username, ":") {
		errs = append(errs, invalid("username", "invalid", "a basic username cannot contain a colon"))
	}
	for _, f := range []struct{ name, raw string }{
		{"token_url", in.TokenURL}, {"authorize_url", in.AuthorizeURL}, {"revocation_url", in.RevocationURL},
	} {
		if f.raw != "" {
			if err := checkEndpoint(f.raw); err != nil {
				errs = append(errs, invalid(f.name, "invalid", err.Error()))
			}
		}
	}
	for _, s := range in.Scopes {
		if !scopeToken.MatchString(s) {
			errs = append(errs, invalid("scopes", "invalid", fmt.Sprintf("scope %q: scopes are printable ASCII without spaces, quotes or backslashes", s)))
			break
		}
	}
	switch in.AuthStyle {
	case "", AuthStyleAuto, AuthStyleHeader, AuthStyleParams:
	default:
		errs = append(errs, invalid("auth_style", "invalid", "auth_style is auto, header or params"))
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts an absolute http(s) URL without user info or fragment.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an absolute http or https URL")
	case u.Host == "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not carry user info")
	case u.Fragment != "":
		return errors.New("must not carry a fragment")
	}
	return nil
}

// invalid is a validation error about one field of the auth object.
func invalid(field, code, message string) *domain.Error {
	return domain.Invalid(FieldPrefix+field, code, message)
}
