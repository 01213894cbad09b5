package outbound

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// addressGuard decides at connect time, on the resolved address, whether a
// destination may be dialled. Checking the address the socket is about to use
// (not the one a resolver returned earlier) defeats DNS rebinding, and every
// redirect hop dials through the same check.
type addressGuard struct {
	guardian *ssrf.Guardian
}

// newAddressGuard denies the IANA special-purpose IPv4 ranges (loopback,
// private, CGNAT, link-local with cloud metadata, multicast, "this network",
// reserved) and every IPv6 address outside global unicast (loopback,
// unspecified, unique-local such as fd00:ec2::254, link-local, multicast,
// IPv4-mapped, NAT64), except what allow lists.
func newAddressGuard(allow []netip.Prefix) *addressGuard {
	var v4, v6 []netip.Prefix
	for _, p := range allow {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return &addressGuard{guardian: ssrf.New(
		ssrf.WithAnyPort(),
		ssrf.WithAllowedV4Prefixes(v4...),
		ssrf.WithAllowedV6Prefixes(v6...),
	)}
}

// control is a net.Dialer Control function: it runs after resolution, once
// per address the dialler tries, before the socket connects.
func (g *addressGuard) control(network, address string, _ syscall.RawConn) error {
	if err := g.guardian.Safe(network, address, nil); err != nil {
		return &BlockedAddressError{Address: address, Reason: err.Error()}
	}
	return nil
}

// checkURL refuses what must never be dialled whatever the address: schemes
// other than http/https, user info (credentials belong in headers, where
// redirects strip them and scrubbing finds them), a missing host, and hosts
// written as non-canonical IPv4 numbers.
func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", ErrForbiddenURL, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info in the url", ErrForbiddenURL)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: no host", ErrForbiddenURL)
	}
	return checkNumericHost(host)
}

// checkNumericHost refuses hosts such as "2130706433", "0177.0.0.1",
// "0x7f.1" or "127.0.0.1.": Go's own resolver rejects them, but the C
// resolver (inet_aton) turns them into 127.0.0.1, and browsers (WHATWG URL)
// read any host whose last label is a number as an IPv4 address. The dial
// check would still refuse the loopback address they decode to; refusing them
// here makes the answer independent of the resolver and of the allowlist.
func checkNumericHost(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	labels := strings.Split(host, ".")
	last := labels[len(labels)-1]
	if last == "" && len(labels) > 1 {
		last = labels[len(labels)-2]
	}
	if isNumericLabel(last) {
		return &BlockedAddressError{Address: host, Reason: "host is a number but not a canonical IP address"}
	}
	return nil
}

func isNumericLabel(label string) bool {
	if label == "" {
		return false
	}
	lower := strings.ToLower(label)
	digits := "0123456789"
	if strings.HasPrefix(lower, "0x") {
		lower = lower[2:]
		digits = "0123456789abcdef"
	}
	for _, r := range lower {
		if !strings.ContainsRune(digits, r) {
			return false
		}
	}
	return true
}
