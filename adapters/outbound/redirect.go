package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrForbiddenRedirect means a redirect to another origin would have resent
// the request body (307/308), which may hold credentials.
var ErrForbiddenRedirect = errors.New("forbidden redirect")

// credentialHeaders are dropped on every redirect that leaves the origin,
// whatever the caller marks as secret.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Cookie2", "X-Api-Key"}

// redirectPolicy is what CheckRedirect needs to know about the call it
// serves; it travels in the request context because http.Client has one
// CheckRedirect for all calls.
type redirectPolicy struct {
	origin        string
	maxRedirects  int
	secretHeaders []string
	secretParams  []string
}

type redirectPolicyKey struct{}

// checkRedirect re-checks every hop: scheme, user info and numeric hosts
// here, the resolved address in the dialler (redirects dial like any
// request). Once any hop leaves the first request's origin (scheme, host and
// port), credentials are dropped from that hop and all later ones: a foreign
// host must not be able to steer a credentialed request, not even back.
func checkRedirect(req *http.Request, via []*http.Request) error {
	policy, _ := req.Context().Value(redirectPolicyKey{}).(*redirectPolicy)
	if policy == nil {
		return errors.New("redirect without a policy")
	}
	if policy.maxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > policy.maxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, policy.maxRedirects)
	}
	if err := checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	// The Referer net/http adds is the previous URL, query string included:
	// it would carry a secret query parameter to the next host.
	req.Header.Del("Referer")
	if !leftOrigin(policy.origin, req, via) {
		return nil
	}
	if req.Body != nil && req.Body != http.NoBody {
		return fmt.Errorf("%w: %s would resend the request body to another origin", ErrForbiddenRedirect, safeTarget(req.URL))
	}
	for _, h := range credentialHeaders {
		req.Header.Del(h)
	}
	for _, h := range policy.secretHeaders {
		req.Header.Del(h)
	}
	if len(policy.secretParams) > 0 {
		q := req.URL.Query()
		for _, p := range policy.secretParams {
			q.Del(p)
		}
		req.URL.RawQuery = q.Encode()
	}
	return nil
}

func leftOrigin(origin string, req *http.Request, via []*http.Request) bool {
	if originOf(req.URL) != origin {
		return true
	}
	for _, r := range via {
		if originOf(r.URL) != origin {
			return true
		}
	}
	return false
}

// originOf is scheme://host:port with the scheme's default port made explicit.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// safeTarget is the URL without user info, query or fragment: what logs and
// error messages may show.
func safeTarget(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
