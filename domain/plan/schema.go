package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Schemas are walked decoded: a map, a boolean, nil for "unknown", or
// noBody for the output of an operation that answers without a body.
type noBody struct{}

// schemaCache decodes each distinct JSON Schema once per validation (the
// catalogue shares renderings between operations).
type schemaCache map[string]any

func (c schemaCache) decode(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	if s, ok := c[string(raw)]; ok {
		return s
	}
	var s any
	if err := json.Unmarshal(raw, &s); err != nil {
		s = nil
	}
	c[string(raw)] = s
	return s
}

// lookupState is the outcome of following a field path into a schema.
type lookupState uint8

const (
	// lookupFound: the schema describes the field.
	lookupFound lookupState = iota
	// lookupUnknown: the schema does not say (free-form object, truncated
	// part, undeclared response): the field may exist.
	lookupUnknown
	// lookupMissing: the schema rules the field out.
	lookupMissing
)

// schemaTypes returns the schema's "type" as a list.
func schemaTypes(m map[string]any) []string {
	switch t := m["type"].(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// combinators returns the members of allOf, anyOf and oneOf.
func combinators(m map[string]any) []any {
	var out []any
	for _, key := range [...]string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[key].([]any); ok {
			out = append(out, list...)
		}
	}
	return out
}

// openOwn reports whether a schema's own keywords (combinators aside) say
// nothing about the shape of its values.
func openOwn(m map[string]any) bool {
	for _, key := range [...]string{"type", "properties", "items", "prefixItems", "additionalProperties", "patternProperties", "enum", "const"} {
		if _, ok := m[key]; ok {
			return false
		}
	}
	return true
}

// descend follows one segment into a schema.
func descend(s any, seg segment) (next any, state lookupState, why string) {
	switch x := s.(type) {
	case nil:
		return nil, lookupUnknown, ""
	case bool:
		if x {
			return nil, lookupUnknown, ""
		}
		return nil, lookupMissing, "the schema allows no value here"
	case noBody:
		return nil, lookupMissing, "the operation's success response has no body"
	case map[string]any:
		members := combinators(x)
		if len(members) == 0 {
			if openOwn(x) {
				return nil, lookupUnknown, ""
			}
			return descendOwn(x, seg)
		}
		var found []any
		for _, member := range members {
			n, st, _ := descend(member, seg)
			switch st {
			case lookupUnknown:
				return nil, lookupUnknown, ""
			case lookupFound:
				found = append(found, n)
			}
		}
		if !openOwn(x) {
			n, st, why := descendOwn(x, seg)
			switch st {
			case lookupUnknown:
				return nil, lookupUnknown, ""
			case lookupFound:
				found = append(found, n)
			default:
				if len(found) == 0 {
					return nil, lookupMissing, why
				}
			}
		}
		switch len(found) {
		case 0:
			return nil, lookupMissing, missingWhy(x, seg)
		case 1:
			return found[0], lookupFound, ""
		}
		return map[string]any{"anyOf": found}, lookupFound, ""
	}
	return nil, lookupUnknown, ""
}

// descendOwn follows a segment through a schema's own keywords.
func descendOwn(m map[string]any, seg segment) (any, lookupState, string) {
	types := schemaTypes(m)
	items, hasItems := m["items"]
	switch {
	case seg.dynamic:
		if hasItems {
			return items, lookupFound, ""
		}
		if ap, ok := m["additionalProperties"].(map[string]any); ok {
			return ap, lookupFound, ""
		}
		return nil, lookupUnknown, ""
	case seg.isIndex:
		if hasItems {
			return items, lookupFound, ""
		}
		if slices.Contains(types, "array") || m["prefixItems"] != nil || len(types) == 0 && m["properties"] == nil {
			return nil, lookupUnknown, ""
		}
		return nil, lookupMissing, missingWhy(m, seg)
	}
	props, _ := m["properties"].(map[string]any)
	if p, ok := props[seg.name]; ok {
		return p, lookupFound, ""
	}
	switch ap := m["additionalProperties"].(type) {
	case map[string]any:
		return ap, lookupFound, ""
	case bool:
		if ap {
			return nil, lookupUnknown, ""
		}
	}
	if m["patternProperties"] != nil {
		return nil, lookupUnknown, ""
	}
	if props == nil && (len(types) == 0 || slices.Contains(types, "object")) && m["additionalProperties"] == nil {
		return nil, lookupUnknown, "" // a free-form object
	}
	return nil, lookupMissing, missingWhy(m, seg)
}

// missingWhy explains why a segment does not fit a schema, naming the
// fields that do exist so that a repair can pick one.
func missingWhy(m map[string]any, seg segment) string {
	names := fieldNames(m)
	if seg.isIndex || seg.dynamic {
		if len(names) > 0 {
			return "it is an object, not a list (fields: " + listNames(names) + ")"
		}
		return "it is not a list"
	}
	if len(names) > 0 {
		return fmt.Sprintf("there is no field %q (fields: %s)", seg.name, listNames(names))
	}
	if types := schemaTypes(m); len(types) > 0 {
		return fmt.Sprintf("it is %s, which has no field %q", strings.Join(types, " or "), seg.name)
	}
	return fmt.Sprintf("there is no field %q", seg.name)
}

// fieldNames lists the property names a schema and its combinator members
// declare, sorted.
func fieldNames(m map[string]any) []string {
	var names []string
	add := func(s any) {
		if mm, ok := s.(map[string]any); ok {
			if props, ok := mm["properties"].(map[string]any); ok {
				for name := range props {
					if !slices.Contains(names, name) {
						names = append(names, name)
					}
				}
			}
		}
	}
	add(m)
	for _, member := range combinators(m) {
		add(member)
	}
	slices.Sort(names)
	return names
}

// listNames joins up to 25 names for a message.
func listNames(names []string) string {
	const most = 25
	if len(names) > most {
		return strings.Join(names[:most], ", ") + fmt.Sprintf(", … %d more", len(names)-most)
	}
	return strings.Join(names, ", ")
}

// maxLiteralDepth bounds the nesting a literal is checked to.
const maxLiteralDepth = 24

// maxCheckedElements bounds the elements of one array that are checked.
const maxCheckedElements = 100

// checkLiteral checks a literal value against a schema: type, enum, const,
// simple formats, required and undeclared (additionalProperties: false)
// fields, array items, allOf/anyOf/oneOf. Templates are checked only for
// what they surely produce (a string, when mixed with text).
func checkLiteral(s any, v any, field string, depth int) []Problem {
	m, ok := s.(map[string]any)
	if !ok {
		if b, isBool := s.(bool); isBool && !b {
			return []Problem{{Field: field, Code: CodeUnknownField, Message: "no value is allowed here"}}
		}
		return nil
	}
	if depth > maxLiteralDepth {
		return nil
	}
	if str, isString := v.(string); isString {
		if t, err := ParseTemplate(str); err == nil && t.HasExpressions() {
			if t.Whole() {
				return nil // known only when the plan runs
			}
			if types := schemaTypes(m); len(types) > 0 && !slices.Contains(types, "string") {
				return []Problem{{Field: field, Code: CodeTypeMismatch, Message: fmt.Sprintf(
					"expected %s, but text around a ${ } expression always makes a string; use one whole ${ } expression",
					strings.Join(types, " or "))}}
			}
			return nil
		}
	}
	var out []Problem
	if list, ok := m["allOf"].([]any); ok {
		for _, member := range list {
			out = append(out, checkLiteral(member, v, field, depth+1)...)
		}
	}
	for _, key := range [...]string{"anyOf", "oneOf"} {
		list, ok := m[key].([]any)
		if !ok || len(list) == 0 {
			continue
		}
		matched := false
		for _, member := range list {
			if len(checkLiteral(member, v, field, depth+1)) == 0 {
				matched = true
				break
			}
		}
		if !matched {
			out = append(out, Problem{Field: field, Code: CodeNoMatchingAlternative, Message: fmt.Sprintf(
				"%s matches none of the %d alternatives (%s)", describeValue(v), len(list), alternatives(list))})
		}
	}
	types := schemaTypes(m)
	if len(types) > 0 && !typeMatches(types, v) {
		return append(out, Problem{Field: field, Code: CodeTypeMismatch, Message: fmt.Sprintf(
			"expected %s, got %s", strings.Join(types, " or "), describeValue(v))})
	}
	if enum, ok := m["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, v) }) {
		out = append(out, Problem{Field: field, Code: CodeNotInEnum, Message: fmt.Sprintf(
			"%s is not one of %s", describeValue(v), enumList(enum))})
	}
	if c, ok := m["const"]; ok && !jsonEqual(c, v) {
		out = append(out, Problem{Field: field, Code: CodeNotInEnum, Message: fmt.Sprintf(
			"%s is not the required value %s", describeValue(v), describeValue(c))})
	}
	if format, ok := m["format"].(string); ok {
		if why := checkFormat(format, v); why != "" {
			out = append(out, Problem{Field: field, Code: CodeInvalidFormat, Message: why})
		}
	}
	switch x := v.(type) {
	case map[string]any:
		out = append(out, checkObject(m, x, field, depth)...)
	case []any:
		if items, ok := m["items"]; ok {
			for i, item := range x[:min(len(x), maxCheckedElements)] {
				out = append(out, checkLiteral(items, item, fmt.Sprintf("%s[%d]", field, i), depth+1)...)
			}
		}
	}
	return out
}

// checkObject checks an object's fields.
func checkObject(m map[string]any, v map[string]any, field string, depth int) []Problem {
	var out []Problem
	props, _ := m["properties"].(map[string]any)
	if required, ok := m["required"].([]any); ok {
		for _, r := range required {
			if name, ok := r.(string); ok {
				if _, present := v[name]; !present {
					out = append(out, Problem{Field: joinField(field, name), Code: CodeMissingField,
						Message: fmt.Sprintf("required field %q is missing", name)})
				}
			}
		}
	}
	for _, name := range sortedKeys(v) {
		sub := joinField(field, name)
		if p, ok := props[name]; ok {
			out = append(out, checkLiteral(p, v[name], sub, depth+1)...)
			continue
		}
		switch ap := m["additionalProperties"].(type) {
		case bool:
			if !ap && m["patternProperties"] == nil {
				out = append(out, Problem{Field: sub, Code: CodeUnknownField, Message: fmt.Sprintf(
					"field %q is not accepted (fields: %s)", name, listNames(sortedKeys(props)))})
			}
		case map[string]any:
			out = append(out, checkLiteral(ap, v[name], sub, depth+1)...)
		}
	}
	return out
}

// typeMatches reports whether v is of one of the JSON Schema types.
func typeMatches(types []string, v any) bool {
	got := jsonTypeOf(v)
	for _, t := range types {
		if t == got || t == "number" && got == "integer" {
			return true
		}
	}
	return false
}

// jsonTypeOf names the JSON type of a decoded value ("integer" for whole numbers).
func jsonTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return "integer"
		}
		return "number"
	case float32:
		return jsonTypeOf(float64(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "integer"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// number returns a decoded number as a float64.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonEqual compares decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return a == b
}

// checkFormat checks the formats that are simple to check; others pass.
func checkFormat(format string, v any) string {
	if f, ok := number(v); ok {
		switch format {
		case "int32":
			if f < math.MinInt32 || f > math.MaxInt32 {
				return fmt.Sprintf("%s is out of the int32 range", describeValue(v))
			}
		case "int64":
			if f < math.MinInt64 || f > math.MaxInt64 {
				return fmt.Sprintf("%s is out of the int64 range", describeValue(v))
			}
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return ""
	}
	valid := true
	switch format {
	case "date":
		_, err := time.Parse(time.DateOnly, s)
		valid = err == nil
	case "date-time":
		_, err := time.Parse(time.RFC3339, s)
		valid = err == nil
	case "uuid":
		valid = isUUID(s)
	case "email":
		a, err := mail.ParseAddress(s)
		valid = err == nil && a.Address == s
	case "uri":
		u, err := url.Parse(s)
		valid = err == nil && u.Scheme != ""
	case "ipv4":
		a, err := netip.ParseAddr(s)
		valid = err == nil && a.Is4()
	case "ipv6":
		a, err := netip.ParseAddr(s)
		valid = err == nil && a.Is6()
	}
	if valid {
		return ""
	}
	return fmt.Sprintf("%s is not a valid %s", describeValue(v), format)
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hexadecimal form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// describeValue renders a value for a message, shortened.
func describeValue(v any) string {
	const most = 60
	var s string
	switch x := v.(type) {
	case string:
		s = fmt.Sprintf("%q", x)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%T", v)
		}
		s = string(b)
	}
	if len(s) > most {
		s = s[:most] + "…"
	}
	if t := jsonTypeOf(v); t != "string" {
		return t + " " + s
	}
	return "string " + s
}

// enumList renders up to 20 enum values.
func enumList(enum []any) string {
	const most = 20
	parts := make([]string, 0, min(len(enum), most))
	for _, e := range enum[:min(len(enum), most)] {
		b, err := json.Marshal(e)
		if err == nil {
			parts = append(parts, string(b))
		}
	}
	s := "[" + strings.Join(parts, ", ")
	if len(enum) > most {
		s += fmt.Sprintf(", … %d more", len(enum)-most)
	}
	return s + "]"
}

// alternatives names the types of anyOf/oneOf members.
func alternatives(list []any) string {
	parts := make([]string, 0, len(list))
	for _, member := range list {
		m, ok := member.(map[string]any)
		if !ok {
			parts = append(parts, "any")
			continue
		}
		t := strings.Join(schemaTypes(m), "|")
		if enum, ok := m["enum"].([]any); ok {
			t = "one of " + enumList(enum)
		}
		if t == "" {
			t = "any"
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "; ")
}

// joinField appends an object field to a problem's field path.
func joinField(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
