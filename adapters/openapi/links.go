package openapi

import (
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// ProducedValue is an identifier-like value found in an operation's success
// response, e.g. the "id" of a movie, under the key "movie_id".
type ProducedValue struct {
	// Key is the normalised name other operations' inputs are matched on.
	Key string `json:"key"`
	// Field locates the value in the response body: a JSON pointer where "*"
	// stands for every array element ("/results/*/id").
	Field string `json:"field"`
}

// NeededValue is an identifier-like input of an operation.
type NeededValue struct {
	Key string `json:"key"`
	// Name and In locate the input: a parameter, or a top-level body property (In "body").
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required,omitempty"`
}

// Link says that an operation's input can be taken from another operation's
// response: Consumer needs Key as Parameter, Producer returns it at Field.
type Link struct {
	Key       string `json:"key"`
	Consumer  string `json:"consumer"`
	Parameter string `json:"parameter"`
	In        string `json:"in"`
	Required  bool   `json:"required,omitempty"`
	Producer  string `json:"producer"`
	Field     string `json:"field"`
}

// maxLinksPerInput caps the producers listed for one input of one operation.
const maxLinksPerInput = 10

// Links computes, across a catalogue, which operations produce the values
// other operations need: for each needed input, up to 10 producers (other
// operations whose Produces has the same key), best first: reads before
// writes, an entity's own id ("/data/*/id") before a reference to it
// ("/data/*/customer"), fewer required inputs, shallower fields, shorter
// paths — so that the likeliest first step (a list or a search) leads.
func Links(ops []Operation) []Link {
	producers := map[string][]producer{}
	for i, op := range ops {
		for _, p := range op.Produces {
			list := producers[p.Key]
			if len(list) > 0 && list[len(list)-1].index == i {
				continue // keep the operation's first (shallowest) field
			}
			producers[p.Key] = append(list, producer{index: i, field: fieldFor(op, p.Key), op: &ops[i]})
		}
	}
	for _, list := range producers {
		sort.SliceStable(list, func(a, b int) bool { return list[a].less(list[b]) })
	}
	var links []Link
	for i, consumer := range ops {
		for _, need := range consumer.Needs {
			n := 0
			for _, p := range producers[need.Key] {
				if p.index == i {
					continue
				}
				links = append(links, Link{
					Key: need.Key, Consumer: consumer.OperationID, Parameter: need.Name, In: need.In,
					Required: need.Required, Producer: p.op.OperationID, Field: p.field,
				})
				if n++; n == maxLinksPerInput {
					break
				}
			}
		}
	}
	return links
}

// producer is an operation that produces a key, at field.
type producer struct {
	index int
	field string
	op    *Operation
}

func (a producer) less(b producer) bool {
	if ra, rb := a.op.SideEffect == SideEffectRead, b.op.SideEffect == SideEffectRead; ra != rb {
		return ra
	}
	if oa, ob := strings.HasSuffix(a.field, "/id"), strings.HasSuffix(b.field, "/id"); oa != ob {
		return oa
	}
	if na, nb := requiredNeeds(*a.op), requiredNeeds(*b.op); na != nb {
		return na < nb
	}
	if da, db := strings.Count(a.field, "/"), strings.Count(b.field, "/"); da != db {
		return da < db
	}
	if len(a.op.Path) != len(b.op.Path) {
		return len(a.op.Path) < len(b.op.Path)
	}
	return a.op.OperationID < b.op.OperationID
}

func requiredNeeds(op Operation) int {
	n := 0
	for _, need := range op.Needs {
		if need.Required {
			n++
		}
	}
	return n
}

// fieldFor returns where op's response carries key: the entity's own id
// when it has one, otherwise the shallowest place.
func fieldFor(op Operation, key string) string {
	best := ""
	better := func(a, b string) bool {
		if oa, ob := strings.HasSuffix(a, "/id"), strings.HasSuffix(b, "/id"); oa != ob {
			return oa
		}
		return strings.Count(a, "/") < strings.Count(b, "/")
	}
	for _, p := range op.Produces {
		if p.Key == key && (best == "" || better(p.Field, best)) {
			best = p.Field
		}
	}
	return best
}

// maxProducedDepth and maxProduced bound the walk over a response schema:
// values nested more than two objects or arrays deep (/data/*/id is two)
// belong to other entities than the one the operation is about.
const (
	maxProducedDepth = 2
	maxProduced      = 64
)

// genericContainers are property names that wrap results rather than name
// what they hold; the entity of their content comes from further up.
var genericContainers = map[string]bool{
	"data": true, "results": true, "result": true, "items": true, "item": true, "list": true,
	"records": true, "record": true, "objects": true, "nodes": true, "node": true, "edges": true,
	"values": true, "value": true, "content": true, "entries": true, "response": true, "payload": true,
	"page": true, "collection": true, "hits": true, "rows": true, "elements": true,
}

// producerIndex finds the values response schemas produce, memoised per
// schema and entity since operations share response schemas.
type producerIndex struct {
	names map[*openapi3.Schema]string
	memo  map[producedKey][]ProducedValue
}

type producedKey struct {
	schema *openapi3.Schema
	entity string
}

func newProducerIndex(names map[*openapi3.Schema]string) *producerIndex {
	return &producerIndex{names: names, memo: map[producedKey][]ProducedValue{}}
}

// producedValues lists the identifier-like values of op's success responses.
//
// Rules: a property "id" is keyed by the entity it belongs to
// ("<entity>_id"); a property whose name ends in id ("movie_id", "personId",
// "genre_ids") is keyed by its own name in snake case, singular; a property
// that is either a string or an object of a named schema (an expandable
// reference, as in Stripe's "customer") is "<name>_id", and the object is
// not looked into. An object's entity is its component name (the part after
// the last dot), or for the response's root the last path segment (a
// trailing {x_id} parameter gives "x"), or for a nested object its
// singularised property name unless that is a generic container ("data",
// "results", "items"...). Values more than two levels deep are left out.
func (pi *producerIndex) producedValues(path string, op *openapi3.Operation) []ProducedValue {
	if op.Responses == nil {
		return nil
	}
	var out []ProducedValue
	seen := map[ProducedValue]bool{}
	responses := op.Responses.Map()
	for _, status := range sortedKeys(responses) {
		ref := responses[status]
		if !isSuccess(status) || ref == nil || ref.Value == nil {
			continue
		}
		_, mt := preferredMediaType(ref.Value.Content)
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			continue
		}
		root := mt.Schema.Value
		key := producedKey{root, pi.entityOf(root, pathEntity(path))}
		values, ok := pi.memo[key]
		if !ok {
			pw := producedWalker{names: pi.names, seen: map[string]bool{}}
			pw.walk(root, "", key.entity, 0)
			values = pw.out
			pi.memo[key] = values
		}
		for _, v := range values {
			if !seen[v] && len(out) < maxProduced {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// entityOf names the entity of an object schema: its component name, or
// that of its items, or the fallback.
func (pi *producerIndex) entityOf(s *openapi3.Schema, fallback string) string {
	if name := entityOfName(pi.names[s]); name != "" {
		return name
	}
	if s.Items != nil && s.Items.Value != nil {
		if name := entityOfName(pi.names[s.Items.Value]); name != "" {
			return name
		}
	}
	return fallback
}

type producedWalker struct {
	names map[*openapi3.Schema]string
	stack []*openapi3.Schema
	seen  map[string]bool
	out   []ProducedValue
}

func (pw *producedWalker) add(key, field string) {
	if key == "" || len(pw.out) >= maxProduced || pw.seen[key+" "+field] {
		return
	}
	pw.seen[key+" "+field] = true
	pw.out = append(pw.out, ProducedValue{Key: key, Field: field})
}

// walk visits s, found at field, whose objects belong to entity.
func (pw *producedWalker) walk(s *openapi3.Schema, field, entity string, depth int) {
	if s == nil || depth > maxProducedDepth || slices.Contains(pw.stack, s) {
		return
	}
	pw.stack = append(pw.stack, s)
	defer func() { pw.stack = pw.stack[:len(pw.stack)-1] }()

	if s.Items != nil && s.Items.Value != nil {
		items := s.Items.Value
		itemEntity := entity
		if name := entityOfName(pw.names[items]); name != "" {
			itemEntity = name
		}
		pw.walk(items, field+"/*", itemEntity, depth+1)
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, member := range group {
			if member != nil && member.Value != nil {
				memberEntity := entity
				if name := entityOfName(pw.names[member.Value]); name != "" && len(s.AllOf) == 0 {
					memberEntity = name
				}
				pw.walk(member.Value, field, memberEntity, depth)
			}
		}
	}
	for _, name := range sortedKeys(s.Properties) {
		ref := s.Properties[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		prop := ref.Value
		propField := pointerJoin(field, name)
		switch {
		case name == "id":
			pw.add(joinKey(entity, "id"), propField)
			continue
		case isIDName(name):
			pw.add(idKey(name), propField)
			continue
		case pw.expandableReference(prop):
			pw.add(joinKey(singular(snakeCase(name)), "id"), propField)
			continue
		}
		if !mayHoldObjects(prop) {
			continue
		}
		child := entity
		if named := entityOfName(pw.names[prop]); named != "" {
			child = named
		} else if !genericContainers[strings.ToLower(name)] {
			child = singular(snakeCase(name))
		}
		pw.walk(prop, propField, child, depth+1)
	}
}

// mayHoldObjects reports whether a schema can contain properties worth a look.
func mayHoldObjects(s *openapi3.Schema) bool {
	if s.Type == nil || len(*s.Type) == 0 {
		return len(s.Properties) > 0 || len(s.AllOf) > 0 || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.Items != nil
	}
	return s.Type.Includes(openapi3.TypeObject) || s.Type.Includes(openapi3.TypeArray)
}

// expandableReference reports whether s is "an id string, or the object it
// names" (anyOf/oneOf of a string and a named object schema).
func (pw *producedWalker) expandableReference(s *openapi3.Schema) bool {
	members := s.AnyOf
	if len(members) == 0 {
		members = s.OneOf
	}
	hasString, hasNamed := false, false
	for _, m := range members {
		if m == nil || m.Value == nil {
			continue
		}
		if m.Value.Type != nil && m.Value.Type.Is(openapi3.TypeString) {
			hasString = true
		}
		if pw.names[m.Value] != "" {
			hasNamed = true
		}
	}
	return hasString && hasNamed
}

// neededValues lists op's identifier-like inputs: every path parameter, and
// query, header, cookie parameters and top-level body properties whose name
// ends in id. A path parameter "id" takes its entity from the path segment
// before it ("/movies/{id}" → "movie_id"); one without an id suffix is an id
// of what it names ("/charges/{charge}" → "charge_id").
func neededValues(path string, params []Parameter, op *openapi3.Operation) []NeededValue {
	var out []NeededValue
	for _, p := range params {
		var key string
		switch {
		case p.Name == "id" || strings.EqualFold(p.Name, "id"):
			key = joinKey(entityBefore(path, p.Name), "id")
		case isIDName(p.Name):
			key = idKey(p.Name)
		case p.In == openapi3.ParameterInPath:
			key = joinKey(singular(snakeCase(p.Name)), "id")
		default:
			continue
		}
		out = append(out, NeededValue{Key: key, Name: p.Name, In: p.In, Required: p.Required})
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		_, mt := preferredMediaType(op.RequestBody.Value.Content)
		if mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			out = append(out, bodyNeeds(mt.Schema.Value)...)
		}
	}
	return out
}

// bodyNeeds lists the id-named top-level properties of a request body.
func bodyNeeds(s *openapi3.Schema) []NeededValue {
	props := map[string]*openapi3.SchemaRef{}
	required := map[string]bool{}
	for _, part := range append([]*openapi3.Schema{s}, refValues(s.AllOf)...) {
		for name, ref := range part.Properties {
			props[name] = ref
		}
		for _, name := range part.Required {
			required[name] = true
		}
	}
	var out []NeededValue
	for _, name := range sortedKeys(props) {
		if isIDName(name) {
			out = append(out, NeededValue{Key: idKey(name), Name: name, In: "body", Required: required[name]})
		}
	}
	return out
}

func refValues(refs openapi3.SchemaRefs) []*openapi3.Schema {
	var out []*openapi3.Schema
	for _, r := range refs {
		if r != nil && r.Value != nil {
			out = append(out, r.Value)
		}
	}
	return out
}

// isIDName reports whether a field name says it holds an identifier:
// "movie_id", "movieId", "personID", "genre_ids", "uuid".
func isIDName(name string) bool {
	s := snakeCase(name)
	return s == "uuid" || strings.HasSuffix(s, "_id") || strings.HasSuffix(s, "_ids") || strings.HasSuffix(s, "_uuid")
}

// idKey normalises an id-named field: snake case, a plural "_ids" made singular.
func idKey(name string) string {
	s := snakeCase(name)
	if strings.HasSuffix(s, "_ids") {
		return strings.TrimSuffix(s, "s")
	}
	return s
}

// joinKey prefixes "id" with an entity name, when there is one.
func joinKey(entity, suffix string) string {
	if entity == "" {
		return suffix
	}
	return entity + "_" + suffix
}

// entityOfName turns a component name into an entity: "PaymentIntent" →
// "payment_intent", "test_helpers.test_clock" → "test_clock", and words that
// describe the representation rather than the thing are dropped:
// "movie-list-object" → "movie", "SimplifiedAlbumObject" → "album".
func entityOfName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	parts := strings.Split(snakeCase(name), "_")
	for len(parts) > 1 && representationWords[parts[len(parts)-1]] {
		parts = parts[:len(parts)-1]
	}
	for len(parts) > 1 && representationWords[parts[0]] {
		parts = parts[1:]
	}
	if len(parts) == 1 && parts[0] == "" {
		return ""
	}
	return singular(strings.Join(parts, "_"))
}

// representationWords qualify a schema name without naming an entity.
var representationWords = map[string]bool{
	"object": true, "list": true, "result": true, "results": true, "item": true, "items": true,
	"response": true, "details": true, "detail": true, "summary": true, "dto": true, "model": true,
	"schema": true, "entity": true, "resource": true, "data": true, "info": true, "full": true,
	"simple": true, "simplified": true, "short": true, "minimal": true, "expanded": true, "base": true,
	"public": true, "private": true, "paginated": true, "paged": true, "page": true, "saved": true,
}

// pathEntity names what a path returns: its last static segment, or the
// entity of a trailing id parameter.
func pathEntity(path string) string {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segments) - 1; i >= 0; i-- {
		seg := segments[i]
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}")
			if isIDName(name) {
				return strings.TrimSuffix(strings.TrimSuffix(idKey(name), "_id"), "_uuid")
			}
			if i == len(segments)-1 && name != "id" {
				return singular(snakeCase(name))
			}
			continue
		}
		if e := singular(snakeCase(seg)); e != "" {
			return e
		}
	}
	return ""
}

// entityBefore names the entity of a path parameter from the static segment
// before it: "/movies/{id}" → "movie".
func entityBefore(path, param string) string {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segments {
		if seg == "{"+param+"}" {
			for j := i - 1; j >= 0; j-- {
				if !strings.HasPrefix(segments[j], "{") {
					return singular(snakeCase(segments[j]))
				}
			}
		}
	}
	return ""
}

// singular makes the last word of a snake_case name singular with the common
// English rules (categories → category, addresses → address, statuses →
// status, movies → movie) and a few irregular plurals (people → person).
func singular(s string) string {
	head, last := "", s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		head, last = s[:i+1], s[i+1:]
	}
	if word, ok := irregularPlurals[last]; ok {
		return head + word
	}
	switch {
	case last == "" || strings.HasSuffix(last, "ss") || strings.HasSuffix(last, "us") || strings.HasSuffix(last, "is"):
		return s
	case strings.HasSuffix(last, "ies") && len(last) > 4:
		return head + strings.TrimSuffix(last, "ies") + "y"
	case strings.HasSuffix(last, "sses"), strings.HasSuffix(last, "uses"), strings.HasSuffix(last, "xes"),
		strings.HasSuffix(last, "ches"), strings.HasSuffix(last, "shes"):
		return head + strings.TrimSuffix(last, "es")
	case strings.HasSuffix(last, "s"):
		return head + strings.TrimSuffix(last, "s")
	}
	return s
}

var irregularPlurals = map[string]string{
	"people": "person", "children": "child", "men": "man", "women": "woman",
	"indices": "index", "vertices": "vertex", "analyses": "analysis", "criteria": "criterion",
}
