package openapi

import (
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Server is one base URL the document offers.
type Server struct {
	// URL has its {variables} replaced by their defaults.
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// SecurityScheme is one way the API authenticates callers.
type SecurityScheme struct {
	// Name is the scheme's key in the document, as security requirements name it.
	Name string `json:"name"`
	// Type is apiKey, http, oauth2, openIdConnect or mutualTLS.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	// In and ParameterName say where an apiKey goes: header, query or cookie, under which name.
	In            string `json:"in,omitempty"`
	ParameterName string `json:"parameter_name,omitempty"`
	// Scheme is the HTTP authentication scheme of an http scheme (basic, bearer...), lower case.
	Scheme       string      `json:"scheme,omitempty"`
	BearerFormat string      `json:"bearer_format,omitempty"`
	Flows        []OAuthFlow `json:"flows,omitempty"`
	// OpenIDConnectURL is the discovery document of an openIdConnect scheme.
	OpenIDConnectURL string `json:"openid_connect_url,omitempty"`
}

// OAuthFlow is one OAuth2 grant an oauth2 scheme supports.
type OAuthFlow struct {
	// Type is implicit, password, clientCredentials or authorizationCode.
	Type             string            `json:"type"`
	AuthorizationURL string            `json:"authorization_url,omitempty"`
	TokenURL         string            `json:"token_url,omitempty"`
	RefreshURL       string            `json:"refresh_url,omitempty"`
	Scopes           map[string]string `json:"scopes,omitempty"`
}

// servers lists the document's servers with variables at their defaults.
func servers(doc *openapi3.T) []Server {
	out := make([]Server, 0, len(doc.Servers))
	for _, s := range doc.Servers {
		if s == nil {
			continue
		}
		url := s.URL
		for name, v := range s.Variables {
			if v != nil {
				url = strings.ReplaceAll(url, "{"+name+"}", v.Default)
			}
		}
		out = append(out, Server{URL: url, Description: s.Description})
	}
	return out
}

// baseURL is the default base URL: the first https server, else the first
// server; "" when the document names none.
func baseURL(list []Server) string {
	for _, s := range list {
		if strings.HasPrefix(strings.ToLower(s.URL), "https://") {
			return s.URL
		}
	}
	if len(list) > 0 {
		return list[0].URL
	}
	return ""
}

// securitySchemes lists the document's security schemes by name.
func securitySchemes(doc *openapi3.T) []SecurityScheme {
	if doc.Components == nil {
		return nil
	}
	var out []SecurityScheme
	for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
		ref := doc.Components.SecuritySchemes[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		s := ref.Value
		scheme := SecurityScheme{
			Name:             name,
			Type:             s.Type,
			Description:      s.Description,
			Scheme:           strings.ToLower(s.Scheme),
			BearerFormat:     s.BearerFormat,
			OpenIDConnectURL: s.OpenIdConnectUrl,
		}
		if s.Type == "apiKey" {
			scheme.In, scheme.ParameterName = s.In, s.Name
		}
		if f := s.Flows; f != nil {
			for _, flow := range []struct {
				kind string
				flow *openapi3.OAuthFlow
			}{
				{"authorizationCode", f.AuthorizationCode},
				{"clientCredentials", f.ClientCredentials},
				{"implicit", f.Implicit},
				{"password", f.Password},
			} {
				if flow.flow == nil {
					continue
				}
				scheme.Flows = append(scheme.Flows, OAuthFlow{
					Type:             flow.kind,
					AuthorizationURL: flow.flow.AuthorizationURL,
					TokenURL:         flow.flow.TokenURL,
					RefreshURL:       flow.flow.RefreshURL,
					Scopes:           flow.flow.Scopes,
				})
			}
		}
		out = append(out, scheme)
	}
	return slices.Clip(out)
}
