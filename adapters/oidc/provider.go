// Package oidc signs users in through their organisation's OpenID provider
// (Okta, Google Workspace, Azure AD or any other): the providers each
// tenant's ADMINs configure, and the authorization code flow with PKCE,
// state and nonce whose ID token it verifies through discovery and JWKS.
package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/apiq/apiq/domain"
)

// The roles a provider may grant (the user aggregate's roles).
const (
	RoleUser    = "USER"
	RoleAdmin   = "ADMIN"
	RoleAuditor = "AUDITOR"
)

// rolePrecedence orders roles from most to least privileged: a user whose
// claim maps to several roles gets the first.
var rolePrecedence = []string{RoleAdmin, RoleAuditor, RoleUser}

// Errors of single sign-on.
var (
	// ErrProviderNotFound means no provider of the tenant has the id (404).
	ErrProviderNotFound = domain.NewError(domain.ErrNotFound, "sso_provider_not_found", "SSO provider not found")
	// ErrLoginRefused means the callback was refused: unknown, used or
	// expired state, a code the provider refused, an ID token that does
	// not verify or a wrong nonce (401).
	ErrLoginRefused = domain.NewError(domain.ErrUnauthenticated, "sso_refused", "single sign-on refused")
	// ErrEmailDomain means the provider vouched for an email outside the
	// provider's allowed domains (403).
	ErrEmailDomain = domain.NewError(domain.ErrForbidden, "sso_email_domain", "this email domain may not sign in through this provider")
)

// Provider is a configured OpenID provider; the client secret never leaves
// the vault through it.
type Provider struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"-"`
	Name           string            `json:"name"`
	IssuerURL      string            `json:"issuer_url"`
	ClientID       string            `json:"client_id"`
	AllowedDomains []string          `json:"allowed_domains"`
	RoleClaim      string            `json:"role_claim,omitempty"`
	RoleMapping    map[string]string `json:"role_mapping"`
	DefaultRole    string            `json:"default_role"`
	CreatedAt      time.Time         `json:"created_at"`
}

// NewProvider is the body of POST /v1/sso/providers.
type NewProvider struct {
	Name           string            `json:"name"`
	IssuerURL      string            `json:"issuer_url"`
	ClientID       string            `json:"client_id"`
	ClientSecret   string            `json:"client_secret"`
	AllowedDomains []string          `json:"allowed_domains,omitempty"`
	RoleClaim      string            `json:"role_claim,omitempty"`
	RoleMapping    map[string]string `json:"role_mapping,omitempty"`
	DefaultRole    string            `json:"default_role,omitempty"`
}

// normalize validates the new provider and fills its defaults.
func (p NewProvider) normalize() (NewProvider, error) {
	var errs []error
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 200 {
		errs = append(errs, domain.Invalid("name", "invalid_name", "name must be 1 to 200 characters"))
	}
	p.IssuerURL = strings.TrimSuffix(strings.TrimSpace(p.IssuerURL), "/")
	if u, err := url.Parse(p.IssuerURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, domain.Invalid("issuer_url", "invalid_issuer_url", "issuer_url must be an absolute http(s) URL"))
	}
	if strings.TrimSpace(p.ClientID) == "" {
		errs = append(errs, domain.Invalid("client_id", "invalid_client_id", "client_id is required"))
	}
	if p.ClientSecret == "" {
		errs = append(errs, domain.Invalid("client_secret", "invalid_client_secret", "client_secret is required"))
	}
	domains := make([]string, 0, len(p.AllowedDomains))
	for _, d := range p.AllowedDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			errs = append(errs, domain.Invalid("allowed_domains", "invalid_domain", fmt.Sprintf("%q is not a domain", d)))
			continue
		}
		domains = append(domains, d)
	}
	p.AllowedDomains = domains
	if p.DefaultRole == "" {
		p.DefaultRole = RoleUser
	}
	if !slices.Contains(rolePrecedence, p.DefaultRole) {
		errs = append(errs, domain.Invalid("default_role", "invalid_role", "default_role must be USER, ADMIN or AUDITOR"))
	}
	for value, role := range p.RoleMapping {
		if !slices.Contains(rolePrecedence, role) {
			errs = append(errs, domain.Invalid("role_mapping", "invalid_role",
				fmt.Sprintf("role_mapping[%q] must be USER, ADMIN or AUDITOR", value)))
		}
	}
	if len(p.RoleMapping) > 0 && p.RoleClaim == "" {
		errs = append(errs, domain.Invalid("role_claim", "invalid_role_claim", "role_claim is required with a role_mapping"))
	}
	if p.RoleMapping == nil {
		p.RoleMapping = map[string]string{}
	}
	return p, errors.Join(errs...)
}

// roleFor returns the role the claims grant: the most privileged role any
// value of the role claim maps to, else the default role.
func (p Provider) roleFor(claims map[string]any) string {
	granted := map[string]bool{}
	switch v := claims[p.RoleClaim].(type) {
	case string:
		granted[p.RoleMapping[v]] = true
	case []any:
		for _, item := range v {
			if s, ok := item.(string); ok {
				granted[p.RoleMapping[s]] = true
			}
		}
	}
	for _, role := range rolePrecedence {
		if granted[role] {
			return role
		}
	}
	return p.DefaultRole
}

// allows reports whether the provider may sign in the email: any email
// when no domains are listed.
func (p Provider) allows(email string) bool {
	if len(p.AllowedDomains) == 0 {
		return true
	}
	_, host, ok := strings.Cut(strings.ToLower(email), "@")
	return ok && slices.Contains(p.AllowedDomains, host)
}
