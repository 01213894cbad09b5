package tools

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/apiq/apiq/domain/plan"
)

// MaxNameLength is the longest function name the chat completions API accepts.
const MaxNameLength = 64

// maxPrefixLength bounds the connection part of a tool name.
const maxPrefixLength = 16

// nameSeparator joins the connection and operation parts of a tool name;
// prefixes never contain it, so a name splits back unambiguously.
const nameSeparator = "__"

// validNameChar reports whether c may appear in a tool name ([a-zA-Z0-9_-]).
func validNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ValidName reports whether name is acceptable to the chat completions API
// as a function name.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !validNameChar(name[i]) {
			return false
		}
	}
	return true
}

// sanitize replaces each run of characters a name cannot hold with one "_".
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	bad := false
	for i := 0; i < len(s); i++ {
		if validNameChar(s[i]) {
			b.WriteByte(s[i])
			bad = false
			continue
		}
		if !bad {
			b.WriteByte('_')
			bad = true
		}
	}
	return b.String()
}

// slug is a short lower-case [a-z0-9_] form of a connection's name, without
// "__" runs, leading or trailing "_".
func slug(s string) string {
	var b strings.Builder
	under := true
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= maxPrefixLength {
			break
		}
	}
	return strings.Trim(b.String(), "_")
}

// shortHash is n hex digits of the SHA-256 of the parts.
func shortHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}

// prefixes gives each connection a readable prefix: the slug of its name
// (or of its id), with a hash of the id appended to every connection whose
// slug another one shares.
func prefixes(endpoints []Endpoint) map[string]string {
	bySlug := map[string][]string{}
	out := map[string]string{}
	for _, e := range endpoints {
		if _, done := out[e.ConnectionID]; done {
			continue
		}
		s := slug(e.ConnectionName)
		if s == "" {
			s = slug(e.ConnectionID)
		}
		if s == "" {
			s = "api"
		}
		out[e.ConnectionID] = s
		bySlug[s] = append(bySlug[s], e.ConnectionID)
	}
	for s, ids := range bySlug {
		if len(ids) > 1 {
			for _, id := range ids {
				out[id] = s + "_" + shortHash(4, id)
			}
		}
	}
	return out
}

// hashedName fits base into a name with an n-digit hash of the operation.
func hashedName(base string, ref plan.OperationRef, n int) string {
	keep := min(len(base), MaxNameLength-1-n)
	return base[:keep] + "_" + shortHash(n, ref.ConnectionID, ref.OperationID)
}

// assignNames names every endpoint: "<prefix>__<operation id>" when that is
// a valid name as it stands, else the sanitised, shortened form with a
// 6-digit hash of (connection, operation); names that still collide get a
// 12-digit hash. The result depends only on the endpoints given.
func assignNames(endpoints []Endpoint) ([]string, error) {
	pre := prefixes(endpoints)
	names := make([]string, len(endpoints))
	count := map[string]int{}
	for i, e := range endpoints {
		ref := e.Ref()
		base := pre[e.ConnectionID] + nameSeparator + sanitize(e.Operation.OperationID)
		name := base
		if base != pre[e.ConnectionID]+nameSeparator+e.Operation.OperationID || len(base) > MaxNameLength ||
			e.Operation.OperationID == "" {
			name = hashedName(base, ref, 6)
		}
		names[i] = name
		count[name]++
	}
	seen := map[string]bool{}
	for i, e := range endpoints {
		if count[names[i]] > 1 {
			names[i] = hashedName(pre[e.ConnectionID]+nameSeparator+sanitize(e.Operation.OperationID), e.Ref(), 12)
		}
		if seen[names[i]] {
			return nil, fmt.Errorf("name tools: %q is given twice", names[i])
		}
		seen[names[i]] = true
	}
	return names, nil
}
