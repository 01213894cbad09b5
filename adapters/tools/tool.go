package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// stepIDDescription tells the model what step_id is for (APIQ's own text,
// not quoted).
const stepIDDescription = "Id of this step: a letter, then letters, digits or _, unique in the plan. " +
	"Later steps use its response by it: with step_id find_movie, ${ steps.find_movie.output.results[0].id }."

// renderCache keeps work shared between the tools of one call: each
// distinct schema rendering decoded once (the catalogue shares renderings
// between operations), each document text cleaned once (every trimming
// level quotes it again).
type renderCache struct {
	schemas map[string]any
	texts   map[string]string
}

func newRenderCache() *renderCache {
	return &renderCache{schemas: map[string]any{}, texts: map[string]string{}}
}

func (c *renderCache) decode(raw json.RawMessage) any {
	if len(raw) == 0 {
		return true
	}
	if s, ok := c.schemas[string(raw)]; ok {
		return s
	}
	var s any
	if err := json.Unmarshal(raw, &s); err != nil {
		s = true
	}
	c.schemas[string(raw)] = s
	return s
}

// untrusted is Untrusted with the cleaning remembered.
func (c *renderCache) untrusted(text string, maxRunes int) string {
	if text == "" || maxRunes <= 0 {
		return ""
	}
	clean, ok := c.texts[text]
	if !ok {
		clean = cleanText(text)
		c.texts[text] = clean
	}
	return quote(clean, maxRunes)
}

// Tool builds the function tool of one operation: its name, a description
// (method, path, side effect and the document's summary quoted as untrusted
// text) and a JSON Schema of its arguments: step_id, one argument per
// path/query/header parameter, and body. It fits the set's size cap by
// trimming descriptions first, then nesting, then optional body fields.
func (s *Set) Tool(ref plan.OperationRef) (openai.Tool, error) {
	i, ok := s.byRef[ref]
	if !ok {
		return openai.Tool{}, fmt.Errorf("tool for %s/%s: %w", ref.ConnectionID, ref.OperationID, ErrUnknownOperation)
	}
	return s.build(i, newRenderCache())
}

// Tools builds the tools of the given operations (duplicates once, in the
// order given), followed by extra ones such as ControlTools. Together they
// may not exceed MaxToolsPerRequest: select the relevant operations first.
func (s *Set) Tools(refs []plan.OperationRef, extra ...openai.Tool) ([]openai.Tool, error) {
	seen := make(map[plan.OperationRef]bool, len(refs))
	unique := make([]int, 0, len(refs))
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		i, ok := s.byRef[ref]
		if !ok {
			return nil, fmt.Errorf("tools: %s/%s: %w", ref.ConnectionID, ref.OperationID, ErrUnknownOperation)
		}
		unique = append(unique, i)
	}
	if n := len(unique) + len(extra); n > MaxToolsPerRequest {
		return nil, fmt.Errorf("tools: %d requested, at most %d per request: %w", n, MaxToolsPerRequest, ErrTooManyTools)
	}
	cache := newRenderCache()
	out := make([]openai.Tool, 0, len(unique)+len(extra))
	for _, i := range unique {
		t, err := s.build(i, cache)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return append(out, extra...), nil
}

// build renders endpoint i at the first level that fits, once per set.
func (s *Set) build(i int, cache *renderCache) (openai.Tool, error) {
	s.mu.Lock()
	tool, done := s.built[i]
	s.mu.Unlock()
	if done {
		return tool, nil
	}
	tool, err := s.render(i, cache)
	if err != nil {
		return openai.Tool{}, err
	}
	s.mu.Lock()
	s.built[i] = tool
	s.mu.Unlock()
	return tool, nil
}

// render renders endpoint i at the first level that fits.
func (s *Set) render(i int, cache *renderCache) (openai.Tool, error) {
	e := s.endpoints[i]
	op := e.Operation
	args := arguments(op)
	schemas := make([]any, len(args))
	for j, a := range args {
		schemas[j] = cache.decode(a.param.Schema)
	}
	var body any
	if op.RequestBody != nil {
		body = cache.decode(op.RequestBody.Schema)
	}
	name := s.names[i]
	var buf []byte
	for _, lvl := range levels {
		buf = appendJSON(buf[:0], s.parameters(op, args, schemas, body, lvl, cache))
		desc := toolDescription(op, runes(lvl.toolDesc, s.opts.MaxDescription), cache)
		if toolSize(name, desc, len(buf)) <= s.opts.MaxToolBytes {
			return openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
				Name: name, Description: desc, Parameters: json.RawMessage(bytes.Clone(buf)),
			}}, nil
		}
	}
	return openai.Tool{}, fmt.Errorf("tool %s: its required arguments alone exceed %d bytes", name, s.opts.MaxToolBytes)
}

// toolSize is the length of a function tool's JSON as go-openai sends it:
// {"function":{"description":…,"name":…,"parameters":…},"type":"function"}.
func toolSize(name, description string, parameters int) int {
	const frame = len(`{"function":{"description":,"name":,"parameters":},"type":"function"}`)
	return frame + len(appendJSONString(nil, description)) + len(appendJSONString(nil, name)) + parameters
}

// parameters renders the arguments object at one level.
func (s *Set) parameters(op openapi.Operation, args []argument, schemas []any, body any, lvl level, cache *renderCache) map[string]any {
	sh := shaper{lvl: lvl, nestedDesc: min(lvl.nestedDesc, s.opts.MaxPropertyDescription), cache: cache}
	argDesc := runes(lvl.argDesc, s.opts.MaxPropertyDescription)
	props := map[string]any{ArgStepID: map[string]any{"type": "string", "description": stepIDDescription}}
	required := []string{ArgStepID}
	for j, a := range args {
		props[a.name] = describe(sh.shape(schemas[j], lvl.depth, argDesc), cache.untrusted(a.param.Description, argDesc))
		if a.param.Required {
			required = append(required, a.name)
		}
	}
	if rb := op.RequestBody; rb != nil && (rb.Required || !closedEmpty(body)) {
		shaped := sh.shape(body, lvl.depth, argDesc)
		if !lvl.optional {
			shaped = requiredOnly(shaped)
		}
		props[ArgBody] = describe(shaped, cache.untrusted(rb.Description, argDesc))
		if rb.Required {
			required = append(required, ArgBody)
		}
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// closedEmpty reports an object schema that admits no fields (Stripe
// declares one as the body of its GET operations): no argument for it.
func closedEmpty(schema any) bool {
	m, ok := schema.(map[string]any)
	if !ok {
		return false
	}
	props, _ := m["properties"].(map[string]any)
	ap, isBool := m["additionalProperties"].(bool)
	return len(props) == 0 && isBool && !ap && m["anyOf"] == nil && m["oneOf"] == nil && m["allOf"] == nil
}

// describe sets a shaped schema's description to the quoted document text
// about the argument, when there is one.
func describe(schema any, q string) any {
	if q == "" {
		return schema
	}
	m, ok := schema.(map[string]any)
	if !ok {
		return map[string]any{"description": q}
	}
	m["description"] = q
	return m
}

// requiredOnly drops an object schema's optional fields, noting how many.
func requiredOnly(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok {
		return schema
	}
	props, _ := m["properties"].(map[string]any)
	if len(props) == 0 {
		return m
	}
	required, _ := m["required"].([]any)
	kept := map[string]any{}
	for _, r := range required {
		if name, ok := r.(string); ok {
			if p, ok := props[name]; ok {
				kept[name] = p
			}
		}
	}
	m["properties"] = kept
	if omitted := len(props) - len(kept); omitted > 0 {
		m["description"] = strings.TrimSpace(fmt.Sprintf("(%d optional fields not shown) ", omitted) + asString(m["description"]))
	}
	return m
}

// toolDescription is "GET /movie/{id} (read). «summary. description»".
func toolDescription(op openapi.Operation, maxRunes int, cache *renderCache) string {
	var b strings.Builder
	b.WriteString(op.Method)
	b.WriteByte(' ')
	b.WriteString(truncateRunes(cleanText(op.Path), 200))
	b.WriteString(" (")
	b.WriteString(string(op.SideEffect))
	if op.Deprecated {
		b.WriteString(", deprecated")
	}
	b.WriteString(").")
	text := strings.TrimSpace(op.Summary)
	if d := strings.TrimSpace(op.Description); d != "" && d != text {
		if text != "" && !strings.HasSuffix(text, ".") {
			text += "."
		}
		text = strings.TrimSpace(text + " " + d)
	}
	if q := cache.untrusted(text, maxRunes); q != "" {
		b.WriteByte(' ')
		b.WriteString(q)
	}
	return b.String()
}
