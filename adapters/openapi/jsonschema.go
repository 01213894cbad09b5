package openapi

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// direction says which side of a call a schema describes: a request leaves
// out readOnly properties, a response writeOnly ones.
type direction uint8

const (
	directionRequest direction = iota + 1
	directionResponse
)

// schemaConverter renders kin-openapi schemas as self-contained JSON Schema
// (2020-12 vocabulary): $refs resolved, allOf merged where that is safe,
// OpenAPI 3.0 forms mapped onto 3.1 ones (nullable → a "null" type, example →
// examples, boolean exclusive bounds → numeric ones), vendor extensions and
// OpenAPI-only keywords (discriminator, xml) left out.
//
// Each rendering is limited in nesting (levels of properties/items; allOf,
// anyOf and oneOf members sit at their parent's level) and in size. A part
// that is deeper than the limit, or that repeats a schema it is nested in,
// becomes a {"description":"(truncated: ...)"} marker. A schema too large at
// the full depth is rendered again one level shallower, until it fits.
//
// Renderings are memoised per schema and direction, so operations sharing a
// response schema share one byte slice. Callers must not modify the results.
type schemaConverter struct {
	maxDepth int
	maxBytes int
	maxDesc  int
	names    map[*openapi3.Schema]string
	memo     map[memoKey]json.RawMessage
	merged   map[*openapi3.Schema]*openapi3.Schema
	scratch  []byte // reused between renderings
}

type memoKey struct {
	schema *openapi3.Schema
	dir    direction
}

// newSchemaConverter prepares a converter for doc's schemas.
func newSchemaConverter(doc *openapi3.T, opts Options) *schemaConverter {
	c := &schemaConverter{
		maxDepth: opts.MaxSchemaDepth,
		maxBytes: opts.MaxSchemaBytes,
		maxDesc:  opts.MaxDescription,
		names:    map[*openapi3.Schema]string{},
		memo:     map[memoKey]json.RawMessage{},
		merged:   map[*openapi3.Schema]*openapi3.Schema{},
	}
	if doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.Schemas) {
			if ref := doc.Components.Schemas[name]; ref != nil && ref.Value != nil {
				if _, taken := c.names[ref.Value]; !taken {
					c.names[ref.Value] = name
				}
			}
		}
	}
	return c
}

// convert renders the schema behind ref, or returns nil when there is none.
func (c *schemaConverter) convert(ref *openapi3.SchemaRef, dir direction) json.RawMessage {
	if ref == nil || ref.Value == nil {
		return nil
	}
	key := memoKey{ref.Value, dir}
	if out, ok := c.memo[key]; ok {
		return out
	}
	// Render one level deeper at a time until the rendering stops growing
	// (nothing was cut for depth), reaches the depth limit or passes the size
	// limit, and keep the last one that fit. Shallow attempts are cheap; a
	// deep one that overflows stops as soon as it passes the limit.
	var out json.RawMessage
	for depth := 0; depth <= c.maxDepth; depth++ {
		w := schemaWriter{conv: c, dir: dir, buf: c.scratch[:0]}
		w.schema(ref.Value, depth)
		c.scratch = w.buf
		if w.overflow || len(w.buf) > c.maxBytes {
			break
		}
		out = bytes.Clone(w.buf)
		if !w.cut {
			break
		}
	}
	if out == nil {
		w := schemaWriter{conv: c, dir: dir}
		w.marker(ref.Value, "(truncated: schema larger than "+strconv.Itoa(c.maxBytes)+" bytes)")
		out = w.buf
	}
	c.memo[key] = out
	return out
}

// name returns the component name of s, or "".
func (c *schemaConverter) name(s *openapi3.Schema) string {
	return c.names[s]
}

// schemaWriter writes one rendering; it gives up (overflow) once the output
// passes the size limit.
type schemaWriter struct {
	conv     *schemaConverter
	dir      direction
	buf      []byte
	cut      bool // a part was left out for depth
	stack    []*openapi3.Schema
	overflow bool
}

// schema writes s with depth levels of nesting left.
func (w *schemaWriter) schema(s *openapi3.Schema, depth int) {
	if w.overflow {
		return
	}
	if len(w.buf) > w.conv.maxBytes {
		w.overflow = true
		return
	}
	if s.Always != nil {
		w.buf = append(w.buf, strconv.FormatBool(*s.Always)...)
		return
	}
	// A merged allOf stands for its members too: meeting one of them again
	// below is a recursion as well.
	m := w.conv.mergeAllOf(s)
	identities := []*openapi3.Schema{s}
	if m != s {
		identities = append(identities, refValues(s.AllOf)...)
	}
	for _, id := range identities {
		if slices.Contains(w.stack, id) {
			w.marker(m, "(truncated: recursive reference to "+w.label(id)+")")
			return
		}
	}
	if depth < 0 {
		w.cut = true
		w.marker(m, "(truncated: nested deeper than "+strconv.Itoa(w.conv.maxDepth)+" levels; "+w.label(identities[len(identities)-1])+")")
		return
	}
	n := len(w.stack)
	w.stack = append(w.stack, identities...)
	defer func() { w.stack = w.stack[:n] }()

	o := objectWriter{w: w}
	o.types(m)
	o.str("format", m.Format)
	o.str("title", m.Title)
	o.str("description", truncateRunes(m.Description, w.conv.maxDesc))
	o.values("enum", m.Enum)
	o.value("const", m.Const)
	o.value("default", m.Default)
	o.examples(m)
	o.number("minimum", m.Min)
	o.number("maximum", m.Max)
	o.exclusiveBound("exclusiveMinimum", m.ExclusiveMin, m.Min)
	o.exclusiveBound("exclusiveMaximum", m.ExclusiveMax, m.Max)
	o.number("multipleOf", m.MultipleOf)
	o.count("minLength", m.MinLength)
	o.countPtr("maxLength", m.MaxLength)
	o.str("pattern", m.Pattern)
	o.str("contentMediaType", m.ContentMediaType)
	o.str("contentEncoding", m.ContentEncoding)
	o.sub("items", m.Items, depth-1)
	o.subs("prefixItems", m.PrefixItems, depth-1)
	o.count("minItems", m.MinItems)
	o.countPtr("maxItems", m.MaxItems)
	o.flag("uniqueItems", m.UniqueItems)
	o.sub("contains", m.Contains, depth-1)
	o.countPtr("minContains", m.MinContains)
	o.countPtr("maxContains", m.MaxContains)
	o.properties(m, depth-1)
	o.boolSchema("additionalProperties", m.AdditionalProperties, depth-1)
	o.schemaMap("patternProperties", m.PatternProperties, depth-1)
	o.sub("propertyNames", m.PropertyNames, depth-1)
	o.count("minProperties", m.MinProps)
	o.countPtr("maxProperties", m.MaxProps)
	o.value("dependentRequired", nonEmptyMap(m.DependentRequired))
	o.schemaMap("dependentSchemas", m.DependentSchemas, depth-1)
	o.boolSchema("unevaluatedProperties", m.UnevaluatedProperties, depth-1)
	o.boolSchema("unevaluatedItems", m.UnevaluatedItems, depth-1)
	o.subs("allOf", m.AllOf, depth)
	o.subs("anyOf", m.AnyOf, depth)
	o.subs("oneOf", m.OneOf, depth)
	o.sub("not", m.Not, depth)
	o.sub("if", m.If, depth)
	o.sub("then", m.Then, depth)
	o.sub("else", m.Else, depth)
	o.flag("readOnly", m.ReadOnly)
	o.flag("writeOnly", m.WriteOnly)
	o.flag("deprecated", m.Deprecated)
	o.close()
}

// marker writes the placeholder of a part left out, keeping its type.
func (w *schemaWriter) marker(s *openapi3.Schema, text string) {
	o := objectWriter{w: w}
	if s.Type != nil && s.Type.IsSingle() {
		o.str("type", (*s.Type)[0])
	}
	o.str("description", text)
	o.close()
}

// label names a schema in markers: its component name, title or type.
func (w *schemaWriter) label(s *openapi3.Schema) string {
	if name := w.conv.name(s); name != "" {
		return name
	}
	if s.Title != "" {
		return s.Title
	}
	if s.Type != nil && len(*s.Type) > 0 {
		return (*s.Type)[0]
	}
	return "schema"
}

// objectWriter writes the members of one JSON object.
type objectWriter struct {
	w    *schemaWriter
	open bool
}

func (o *objectWriter) key(k string) {
	if o.open {
		o.w.buf = append(o.w.buf, ',')
	} else {
		o.w.buf = append(o.w.buf, '{')
		o.open = true
	}
	o.w.buf = appendJSONString(o.w.buf, k)
	o.w.buf = append(o.w.buf, ':')
}

func (o *objectWriter) close() {
	if !o.open {
		o.w.buf = append(o.w.buf, '{')
	}
	o.w.buf = append(o.w.buf, '}')
}

func (o *objectWriter) str(k, v string) {
	if v != "" {
		o.key(k)
		o.w.buf = appendJSONString(o.w.buf, v)
	}
}

func (o *objectWriter) flag(k string, v bool) {
	if v {
		o.key(k)
		o.w.buf = append(o.w.buf, "true"...)
	}
}

func (o *objectWriter) number(k string, v *float64) {
	if v != nil {
		o.key(k)
		o.w.buf = strconv.AppendFloat(o.w.buf, *v, 'g', -1, 64)
	}
}

func (o *objectWriter) count(k string, v uint64) {
	if v != 0 {
		o.key(k)
		o.w.buf = strconv.AppendUint(o.w.buf, v, 10)
	}
}

func (o *objectWriter) countPtr(k string, v *uint64) {
	if v != nil {
		o.key(k)
		o.w.buf = strconv.AppendUint(o.w.buf, *v, 10)
	}
}

// value writes any decoded JSON value; values that do not encode are left out.
func (o *objectWriter) value(k string, v any) {
	if v == nil {
		return
	}
	encoded, err := json.Marshal(v)
	if err != nil {
		return
	}
	o.key(k)
	o.w.buf = append(o.w.buf, encoded...)
}

func (o *objectWriter) values(k string, v []any) {
	if len(v) > 0 {
		o.value(k, v)
	}
}

// types writes "type", adding "null" for OpenAPI 3.0's nullable.
func (o *objectWriter) types(s *openapi3.Schema) {
	if s.Type == nil || len(*s.Type) == 0 {
		return
	}
	types := *s.Type
	if s.Nullable && !slices.Contains(types, openapi3.TypeNull) {
		types = append(slices.Clip(types), openapi3.TypeNull)
	}
	if len(types) == 1 {
		o.str("type", types[0])
		return
	}
	o.strings("type", types)
}

// strings writes a non-empty list of strings.
func (o *objectWriter) strings(k string, list []string) {
	if len(list) == 0 {
		return
	}
	o.key(k)
	o.w.buf = append(o.w.buf, '[')
	for i, v := range list {
		if i > 0 {
			o.w.buf = append(o.w.buf, ',')
		}
		o.w.buf = appendJSONString(o.w.buf, v)
	}
	o.w.buf = append(o.w.buf, ']')
}

// maxExamples and maxExampleBytes keep examples to a few short scalars: they
// help a reader (or a model) with formats, and cost little.
const (
	maxExamples     = 3
	maxExampleBytes = 100
)

// examples writes "examples" from 3.1 examples or the 3.0 example.
func (o *objectWriter) examples(s *openapi3.Schema) {
	candidates := s.Examples
	if len(candidates) == 0 && s.Example != nil {
		candidates = []any{s.Example}
	}
	var kept []any
	for _, e := range candidates {
		switch x := e.(type) {
		case string:
			if len(x) <= maxExampleBytes {
				kept = append(kept, x)
			}
		case float64, bool, int, int64:
			kept = append(kept, x)
		}
		if len(kept) == maxExamples {
			break
		}
	}
	o.values("examples", kept)
}

// exclusiveBound writes a 2020-12 exclusive bound: 3.1 numbers as they are,
// 3.0 booleans as the bound they qualify.
func (o *objectWriter) exclusiveBound(k string, b openapi3.ExclusiveBound, bound *float64) {
	switch {
	case b.Value != nil:
		o.number(k, b.Value)
	case b.Bool != nil && *b.Bool && bound != nil:
		o.number(k, bound)
	}
}

func (o *objectWriter) sub(k string, ref *openapi3.SchemaRef, depth int) {
	if ref == nil || ref.Value == nil {
		return
	}
	o.key(k)
	o.w.schema(ref.Value, depth)
}

func (o *objectWriter) subs(k string, refs openapi3.SchemaRefs, depth int) {
	if len(refs) == 0 {
		return
	}
	o.key(k)
	o.w.buf = append(o.w.buf, '[')
	first := true
	for _, ref := range refs {
		if ref == nil || ref.Value == nil {
			continue
		}
		if !first {
			o.w.buf = append(o.w.buf, ',')
		}
		first = false
		o.w.schema(ref.Value, depth)
	}
	o.w.buf = append(o.w.buf, ']')
}

func (o *objectWriter) schemaMap(k string, m openapi3.Schemas, depth int) {
	if len(m) == 0 {
		return
	}
	o.key(k)
	inner := objectWriter{w: o.w}
	for _, name := range sortedKeys(m) {
		inner.sub(name, m[name], depth)
	}
	inner.close()
}

func (o *objectWriter) boolSchema(k string, b openapi3.BoolSchema, depth int) {
	switch {
	case b.Has != nil:
		o.key(k)
		o.w.buf = append(o.w.buf, strconv.FormatBool(*b.Has)...)
	case b.Schema != nil && b.Schema.Value != nil:
		o.sub(k, b.Schema, depth)
	}
}

// properties writes "properties" and "required", leaving out the properties
// that do not travel in this direction (readOnly in requests, writeOnly in
// responses).
func (o *objectWriter) properties(s *openapi3.Schema, depth int) {
	var names []string
	skipped := map[string]bool{}
	for _, name := range sortedKeys(s.Properties) {
		ref := s.Properties[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		if (o.w.dir == directionRequest && ref.Value.ReadOnly) || (o.w.dir == directionResponse && ref.Value.WriteOnly) {
			skipped[name] = true
			continue
		}
		names = append(names, name)
	}
	if len(names) > 0 {
		o.key("properties")
		inner := objectWriter{w: o.w}
		for _, name := range names {
			inner.sub(name, s.Properties[name], depth)
		}
		inner.close()
	}
	var required []string
	for _, name := range s.Required {
		if !skipped[name] {
			required = append(required, name)
		}
	}
	o.strings("required", required)
}

func nonEmptyMap(m map[string][]string) any {
	if len(m) == 0 {
		return nil
	}
	return m
}

// truncateRunes shortens s to at most n runes, marking the cut with "…".
func truncateRunes(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n]) + "…"
}

// appendJSONString appends s as a JSON string literal; invalid UTF-8 becomes U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, `\n`...)
			case '\r':
				buf = append(buf, `\r`...)
			case '\t':
				buf = append(buf, `\t`...)
			default:
				buf = append(buf, `\u00`...)
				buf = append(buf, hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
