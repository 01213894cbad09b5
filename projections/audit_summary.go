package projections

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/domain/connection"
	"github.com/apiq/apiq/domain/reservation"
	"github.com/apiq/apiq/domain/security"
	"github.com/apiq/apiq/domain/tenant"
	"github.com/apiq/apiq/domain/user"
)

// Bounds of an audit summary.
const (
	maxSummaryFields      = 16
	maxSummaryString      = 200 // runes
	maxSummaryNestedBytes = 1024
	maxSummaryBytes       = 2048
)

// redacted replaces a value that looks like a secret.
const redacted = "[redacted]"

// summaryRule says what the audit summary of a known event type keeps.
type summaryRule struct {
	// keep lists the fields copied (strings cut and screened for secrets).
	keep []string
	// flags maps a field to a boolean reported when the field is present
	// (a changed password shows as password_changed: true, never the hash).
	flags map[string]string
	// counts lists array fields summarised by their length (<field>_count).
	counts []string
}

// auditSummaryRules allow-list the fields of every known event type: credential
// events keep only their type, hint and key id; personal data (always
// encrypted), password and secret hashes, blind indexes and sealed values are
// never kept. Unknown types fall back to genericSummary.
var auditSummaryRules = map[string]summaryRule{
	tenant.TypeCreated:           {keep: []string{"tenant_id", "name", "slug"}},
	tenant.TypeAdminBootstrapped: {keep: []string{"user_id"}},
	tenant.TypeAdminGranted:      {keep: []string{"user_id"}},
	tenant.TypeAdminRevoked:      {keep: []string{"user_id"}},

	user.TypeCreated: {keep: []string{"user_id", "role"}},
	user.TypeUpdated: {keep: []string{"role", "disabled"},
		flags: map[string]string{"name_encrypted": "name_changed", "password_hash": "password_changed"}},
	user.TypeDeleted:         {},
	user.TypeLoggedIn:        {keep: []string{"method"}},
	user.TypeLoginFailed:     {keep: []string{"reason"}},
	user.TypeAPITokenIssued:  {keep: []string{"token_id", "name", "expires_at"}},
	user.TypeAPITokenRevoked: {keep: []string{"token_id"}},

	security.TypeAccessDenied:   {keep: []string{"method", "route", "reason"}},
	security.TypeLoginFailed:    {keep: []string{"reason"}},
	security.TypeAuditAccessed:  {keep: []string{"query", "filters"}},
	security.TypeSSOLoginFailed: {keep: []string{"provider_id", "issuer", "reason", "provider_error"}},

	reservation.TypeReserved: {keep: []string{"owner"}},
	reservation.TypeReleased: {keep: []string{"owner"}},

	connection.TypeRegistered: {keep: []string{"connection_id", "name", "base_url", "document_url"}},
	connection.TypeUpdated:    {keep: []string{"name", "base_url"}},
	connection.TypeDocumentImported: {keep: []string{"document_hash", "document_bytes", "openapi_version", "title",
		"api_version", "operation_count"}, counts: []string{"warnings"}},
	connection.TypeEndpointsDiscovered: {keep: []string{"document_hash", "catalogue_hash", "operation_count"},
		counts: []string{"added", "removed", "changed"}},
	connection.TypeCredentialsSet:          {keep: []string{"type", "hint", "key_id", "expires_at"}},
	connection.TypeCredentialsRotated:      {keep: []string{"type", "hint", "key_id", "expires_at"}},
	connection.TypeOAuthTokensRefreshed:    {keep: []string{"key_id", "expires_at"}},
	connection.TypeReauthorizationRequired: {keep: []string{"reason"}},
	connection.TypeTested:                  {keep: []string{"method", "path", "ok", "status", "duration_ms", "error"}},
	connection.TypeDisabled:                {keep: []string{"reason"}},
	connection.TypeEnabled:                 {},
	connection.TypeDeleted:                 {},
}

// AuditSummary returns the bounded, secret-free JSON object an audit row
// keeps of an event's data: the allow-listed fields of a known event type,
// or for an unknown type its top-level scalar fields whose names do not
// suggest a secret. String values that look like secrets (vault
// ciphertexts, API tokens, JWTs, authorization headers) are redacted, URLs
// lose their user info, strings are cut to 200 characters, and the whole
// object stays under 2 KiB. Keys come out sorted, so the result is
// deterministic.
func AuditSummary(eventType string, data json.RawMessage) json.RawMessage {
	rule, known := auditSummaryRules[eventType]
	if !known {
		fields := map[string]json.RawMessage{}
		forEachMember(data, func(key, value []byte) { fields[string(key)] = value })
		out := map[string]json.RawMessage{}
		genericSummary(fields, out)
		return encodeSummary(out)
	}
	out := make(map[string]json.RawMessage, len(rule.keep)+len(rule.flags)+len(rule.counts))
	forEachMember(data, func(key, v []byte) {
		for _, name := range rule.keep {
			if string(key) == name {
				if kept, ok := summaryValue(v, true); ok {
					out[name] = kept
				} else {
					delete(out, name)
				}
				return
			}
		}
		for name, flag := range rule.flags {
			if string(key) == name {
				if !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
					out[flag] = json.RawMessage("true")
				} else {
					delete(out, flag)
				}
				return
			}
		}
		for _, name := range rule.counts {
			if string(key) == name {
				var items []json.RawMessage
				if json.Unmarshal(v, &items) == nil {
					out[name+"_count"] = mustJSON(len(items))
				} else {
					delete(out, name+"_count")
				}
				return
			}
		}
	})
	return encodeSummary(out)
}

// forEachMember calls fn with each member of a JSON object, in order (so
// the last of duplicate keys wins when fn overwrites, as with
// json.Unmarshal); anything but an object has no members.
func forEachMember(data []byte, fn func(key, value []byte)) {
	if eachMember(data, fn) {
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return
	}
	for k, v := range fields {
		fn([]byte(k), v)
	}
}

// genericSummary keeps the scalar fields of an unknown event type whose
// names do not suggest secrets, up to maxSummaryFields in name order.
func genericSummary(fields map[string]json.RawMessage, out map[string]json.RawMessage) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !secretName(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if len(out) == maxSummaryFields {
			out["truncated"] = json.RawMessage("true")
			return
		}
		if kept, ok := summaryValue(fields[name], false); ok {
			out[bound(name, maxAuditField)] = kept
		}
	}
}

// secretNameParts are name fragments of fields that may hold secrets or
// bulk content; names ending in _id, _type or _hint (token_id,
// credential_key_id) only name one.
var secretNameParts = []string{"secret", "password", "passwd", "passphrase", "token", "ciphertext", "encrypted",
	"sealed", "private", "authorization", "cookie", "credential", "api_key", "apikey", "session", "otp",
	"body", "header", "payload", "content"}

func secretName(name string) bool {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, "_id") || strings.HasSuffix(n, "_type") || strings.HasSuffix(n, "_hint") {
		return false
	}
	for _, part := range secretNameParts {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// summaryValue screens one value: scalars pass (strings screened and cut);
// objects and arrays pass only when nested is allowed and they are small,
// with their strings screened too.
func summaryValue(v json.RawMessage, nested bool) (json.RawMessage, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '"':
		if plain, ok := plainJSONString(v); ok && screenString(plain) == plain {
			return v, true // what mustJSON(plain) would write
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, false
		}
		return mustJSON(screenString(s)), true
	case '{', '[':
		if !nested || len(v) > maxSummaryNestedBytes {
			return nil, false
		}
		var tree any
		if json.Unmarshal(v, &tree) != nil {
			return nil, false
		}
		return mustJSON(screenTree(tree)), true
	}
	var compact bytes.Buffer
	if json.Compact(&compact, v) != nil {
		return nil, false
	}
	return compact.Bytes(), true
}

// screenTree screens every string of a decoded JSON value.
func screenTree(v any) any {
	switch t := v.(type) {
	case string:
		return screenString(t)
	case []any:
		for i := range t {
			t[i] = screenTree(t[i])
		}
	case map[string]any:
		for k := range t {
			if secretName(k) {
				t[k] = redacted
				continue
			}
			t[k] = screenTree(t[k])
		}
	}
	return v
}

// screenString redacts strings that look like secrets, strips user info
// from URLs and cuts the rest to maxSummaryString characters.
func screenString(s string) string {
	if looksSecret(s) {
		return redacted
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			u.User = nil
			s = u.String()
		}
	}
	if utf8.RuneCountInString(s) > maxSummaryString {
		r := []rune(s)
		s = string(r[:maxSummaryString]) + "…"
	}
	return s
}

// looksSecret recognises credentials by their shape.
func looksSecret(s string) bool {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(t, "apiq_"),
		strings.HasPrefix(lower, "bearer "), strings.HasPrefix(lower, "basic "),
		strings.HasPrefix(t, "eyJ") && strings.Count(t, ".") == 2:
		return true
	}
	return looksLikeVaultCiphertext(t)
}

// looksLikeVaultCiphertext matches the vault's format: URL-safe base64 of
// version byte 1, a 16-byte key id, a 12-byte nonce and a sealed value with
// its 16-byte tag.
func looksLikeVaultCiphertext(s string) bool {
	const minRaw = 1 + 16 + 12 + 16
	if len(s) < base64.RawURLEncoding.EncodedLen(minRaw) || strings.ContainsAny(s, " \t\n") {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(raw) >= minRaw && raw[0] == 1
}

// encodeSummary encodes the summary with sorted keys, dropping the last
// fields until it fits maxSummaryBytes. Values are valid, compact JSON
// already (summaryValue made them), so they are copied as they are.
func encodeSummary(fields map[string]json.RawMessage) json.RawMessage {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	encode := func(names []string, truncated bool) []byte {
		b := make([]byte, 0, 128)
		b = append(b, '{')
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(b, mustJSON(name)...), ':')
			b = append(b, fields[name]...)
		}
		if truncated {
			if len(names) > 0 {
				b = append(b, ',')
			}
			b = append(b, `"truncated":true`...)
		}
		return append(b, '}')
	}
	b := encode(names, false)
	for keep := len(names) - 1; len(b) > maxSummaryBytes && keep >= 0; keep-- {
		kept := slices.DeleteFunc(slices.Clone(names[:keep]), func(n string) bool { return n == "truncated" })
		b = encode(kept, true)
	}
	return b
}

// mustJSON encodes values that always encode (strings, numbers, maps of raw
// JSON already validated, decoded JSON trees).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// plainJSONString returns the content of a JSON string literal that needs
// no unescaping and that json.Marshal writes back byte for byte (no
// escapes, control or HTML characters, line or paragraph separators,
// invalid UTF-8); ok is false for any other.
func plainJSONString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	ascii := true
	for _, c := range inner {
		switch {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && (!utf8.Valid(inner) || bytes.Contains(inner, []byte("\u2028")) || bytes.Contains(inner, []byte("\u2029"))) {
		return "", false
	}
	return string(inner), true
}

// eachMember calls fn with each member of a JSON object without decoding
// the values. It returns false — having called fn for none, or only some,
// of the members; the caller then decodes with encoding/json — for
// anything it does not handle simply: not an object, an escaped key, a
// malformed text.
func eachMember(data []byte, fn func(key, value []byte)) bool {
	// A first pass checks the shape, so fn sees all members or none.
	if !splitMembers(data, nil) {
		return false
	}
	return splitMembers(data, fn)
}

// splitMembers walks the members of an object, calling fn when set.
func splitMembers(data []byte, fn func(key, value []byte)) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := stringEnd(data, i)
		if end < 0 || bytes.IndexByte(data[i:end], '\\') >= 0 {
			return false
		}
		key := data[i+1 : end-1]
		if !validKey(key) {
			return false // encoding/json would replace or refuse these
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		start := skipSpace(data, i+1)
		end = valueEnd(data, start)
		if end <= start {
			return false
		}
		if fn != nil {
			fn(key, data[start:end])
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// validKey reports a key of valid UTF-8 without control characters (in
// UTF-8 a byte below 0x20 is always such a character).
func validKey(key []byte) bool {
	ascii := true
	for _, c := range key {
		if c < 0x20 {
			return false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	return ascii || utf8.Valid(key)
}

// stringEnd returns the index after the string literal starting at i, or -1.
func stringEnd(data []byte, i int) int {
	j := i + 1
	for {
		// The closing quote is the next one unless a backslash precedes it.
		q := bytes.IndexByte(data[j:], '"')
		if q < 0 {
			return -1
		}
		b := bytes.IndexByte(data[j:j+q], '\\')
		if b < 0 {
			return j + q + 1
		}
		j += b + 2 // skip the escaped character
		if j > len(data) {
			return -1
		}
	}
}

// valueEnd returns the index after the JSON value starting at i, or -1.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				if j = stringEnd(data, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for ; j < len(data); j++ {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return j
}
