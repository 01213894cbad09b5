package planning

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// statedValues are the values a request states: name=value (or name:
// value) pairs, quoted text and numbers, in the order written.
type statedValues struct {
	named   map[string]string // by normalised name
	quoted  []string
	numbers []string
}

var (
	namedValue  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.\-]*)\s*[=:]\s*(?:"([^"]*)"|“([^”]*)”|'([^']*)'|([^\s,;"“”']+))`)
	quotedValue = regexp.MustCompile(`"([^"]+)"|“([^”]+)”|(?:^|\s)'([^']+)'`)
	numberValue = regexp.MustCompile(`-?\b\d+(?:\.\d+)?\b`)
)

// normalName compares names without case, "-", "_", "." or spaces.
func normalName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
}

// firstGroup returns the first non-empty submatch from group from on.
func firstGroup(text string, m []int, from int) string {
	for g := from; 2*g+1 < len(m); g++ {
		if m[2*g] >= 0 {
			return text[m[2*g]:m[2*g+1]]
		}
	}
	return ""
}

// parseValues reads the values a request states. Later name=value pairs
// win over earlier ones (a revision restating a value).
func parseValues(text string) statedValues {
	v := statedValues{named: map[string]string{}}
	used := make([]bool, len(text))
	mark := func(from, to int) {
		for i := from; i < to; i++ {
			used[i] = true
		}
	}
	free := func(from, to int) bool { return !slices.Contains(used[from:to], true) }
	for _, m := range namedValue.FindAllStringSubmatchIndex(text, -1) {
		v.named[normalName(text[m[2]:m[3]])] = firstGroup(text, m, 2)
		mark(m[0], m[1])
	}
	for _, m := range quotedValue.FindAllStringSubmatchIndex(text, -1) {
		if free(m[0], m[1]) {
			v.quoted = append(v.quoted, firstGroup(text, m, 1))
			mark(m[0], m[1])
		}
	}
	for _, m := range numberValue.FindAllStringIndex(text, -1) {
		if free(m[0], m[1]) {
			v.numbers = append(v.numbers, text[m[0]:m[1]])
		}
	}
	return v
}

// searchNames are optional string parameters that take a request's quoted
// text when no required one does.
var searchNames = []string{"q", "query", "search", "term", "keyword", "keywords", "name", "title", "text"}

// schemaType is a schema's first declared type ("" when it declares none).
func schemaType(raw json.RawMessage) string {
	var s struct {
		Type any `json:"type"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	switch t := s.Type.(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if name, ok := x.(string); ok && name != "null" {
				return name
			}
		}
	}
	return ""
}

// coerce turns stated text into a value of the schema's type when it
// reads as one (validation reports it otherwise).
func coerce(text, typ string) any {
	switch typ {
	case "integer":
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n
		}
	case "number":
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return f
		}
	case "boolean":
		if b, err := strconv.ParseBool(text); err == nil {
			return b
		}
	case "array":
		var out []any
		for _, part := range strings.Split(text, ",") {
			out = append(out, strings.TrimSpace(part))
		}
		return out
	}
	return text
}

// locationOrder sorts parameters path, query, header.
var locationOrder = map[string]int{"path": 0, "query": 1, "header": 2}

// fillCall builds a call of op with the parameters the request states:
// parameters and top-level body fields named in name=value pairs, then
// required parameters from quoted text (strings) and numbers (numeric
// ones) in order, then a search-like optional parameter from quoted text.
func fillCall(connectionID string, op openapi.Operation, v statedValues) *plan.Call {
	call := &plan.Call{ConnectionID: connectionID, OperationID: op.OperationID, SideEffect: op.SideEffect}
	var params []openapi.Parameter
	for _, p := range op.Parameters {
		if _, ok := locationOrder[p.In]; ok && !plan.IsCredentialParameter(p.Name) {
			params = append(params, p)
		}
	}
	slices.SortStableFunc(params, func(a, b openapi.Parameter) int { return locationOrder[a.In] - locationOrder[b.In] })
	set := func(p openapi.Parameter, value any) {
		target := &call.Query
		switch p.In {
		case "path":
			target = &call.Path
		case "header":
			target = &call.Header
		}
		if *target == nil {
			*target = map[string]any{}
		}
		(*target)[p.Name] = value
	}
	filled := map[int]bool{}
	for i, p := range params {
		if text, ok := v.named[normalName(p.Name)]; ok {
			set(p, coerce(text, schemaType(p.Schema)))
			filled[i] = true
		}
	}
	quoted, numbers := slices.Clone(v.quoted), slices.Clone(v.numbers)
	for i, p := range params {
		if filled[i] || !p.Required {
			continue
		}
		switch typ := schemaType(p.Schema); typ {
		case "integer", "number":
			if len(numbers) > 0 {
				set(p, coerce(numbers[0], typ))
				numbers, filled[i] = numbers[1:], true
			}
		case "string", "":
			if len(quoted) > 0 {
				set(p, quoted[0])
				quoted, filled[i] = quoted[1:], true
			}
		}
	}
	for i, p := range params {
		if len(quoted) > 0 && !filled[i] && slices.Contains(searchNames, normalName(p.Name)) && schemaType(p.Schema) == "string" {
			set(p, quoted[0])
			quoted, filled[i] = quoted[1:], true
		}
	}
	if op.RequestBody != nil {
		if body := fillBody(op.RequestBody.Schema, v); len(body) > 0 {
			call.Body = body
		}
	}
	return call
}

// fillBody sets the top-level fields of an object body named in the request.
func fillBody(raw json.RawMessage, v statedValues) map[string]any {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	body := map[string]any{}
	for name, schema := range s.Properties {
		if text, ok := v.named[normalName(name)]; ok {
			body[name] = coerce(text, schemaType(schema))
		}
	}
	return body
}

// draftStepID names a draft's step after its operation ("GET_search-movie"
// → "GET_search_movie").
func draftStepID(operationID string) string {
	var b strings.Builder
	for _, r := range operationID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9' && b.Len() > 0, r == '_' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('_')
		}
		if b.Len() >= plan.MaxIDLength-1 {
			break
		}
	}
	id := strings.TrimRight(b.String(), "_")
	if id == "" || slices.Contains(reservedWords, id) {
		return "step1"
	}
	return id
}

// reservedWords cannot name a step (the expression language's words).
var reservedWords = []string{"in", "not", "and", "or", "true", "false", "nil", "let", "if", "else",
	"matches", "contains", "startsWith", "endsWith"}
