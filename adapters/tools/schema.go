package tools

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// Reserved argument names of every operation tool.
const (
	// ArgStepID names the step a call becomes, for later references.
	ArgStepID = "step_id"
	// ArgBody holds the request body.
	ArgBody = "body"
)

// argument maps one tool argument to the parameter it sets.
type argument struct {
	name  string // the property name in the tool's parameters
	param openapi.Parameter
}

// arguments lists an operation's parameters as tool arguments: path, query
// and header parameters, each under its own name unless that is reserved
// or taken by a parameter elsewhere, then under "<in>_<name>". Cookie
// parameters and parameters that carry credentials are left out: APIQ
// supplies credentials, never the model.
func arguments(op openapi.Operation) []argument {
	var kept []openapi.Parameter
	count := map[string]int{ArgStepID: 1, ArgBody: 1}
	for _, p := range op.Parameters {
		if p.In == "cookie" || plan.IsCredentialParameter(p.Name) {
			continue
		}
		kept = append(kept, p)
		count[p.Name]++
	}
	out := make([]argument, 0, len(kept))
	taken := map[string]bool{ArgStepID: true, ArgBody: true}
	for _, p := range kept {
		name := p.Name
		if count[name] > 1 {
			name = p.In + "_" + p.Name
		}
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s_%s_%d", p.In, p.Name, n)
		}
		taken[name] = true
		out = append(out, argument{name: name, param: p})
	}
	return out
}

// level is one degree of trimming; tools are rendered at the first level
// whose JSON fits the size cap.
type level struct {
	depth      int  // levels of properties/items kept below an argument
	toolDesc   int  // runes of the tool description
	argDesc    int  // runes of each argument's description (0: none)
	nestedDesc int  // runes of descriptions below arguments (0: none)
	enumMax    int  // longer enums become a description
	extras     bool // examples, titles, patterns, bounds, defaults
	optional   bool // optional fields of the body are kept
}

// levels trim descriptions first, then depth, then optional body fields;
// argument types and required fields stay to the end.
var levels = []level{
	{depth: 6, toolDesc: -1, argDesc: -1, nestedDesc: 120, enumMax: 50, extras: true, optional: true},
	{depth: 5, toolDesc: -1, argDesc: -1, nestedDesc: 60, enumMax: 30, optional: true},
	{depth: 4, toolDesc: 200, argDesc: 100, enumMax: 20, optional: true},
	{depth: 3, toolDesc: 150, argDesc: 60, enumMax: 15, optional: true},
	{depth: 2, toolDesc: 120, argDesc: 40, enumMax: 10, optional: true},
	{depth: 1, toolDesc: 100, enumMax: 10, optional: true},
	{depth: 1, toolDesc: 100, enumMax: 5},
	{depth: 0, toolDesc: 80},
}

// maxCollapseDepth bounds how deep required fields are kept below a cut.
const maxCollapseDepth = 8

// shaper renders argument schemas at one level; nestedDesc is the level's
// budget for descriptions below arguments, within the options' cap.
type shaper struct {
	lvl        level
	nestedDesc int
	cache      *renderCache
}

// shape renders a schema with depth levels of nesting left; desc caps its
// own description.
func (s shaper) shape(node any, depth, desc int) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	if depth < 0 {
		return collapse(m, maxCollapseDepth)
	}
	out := make(map[string]any, len(m))
	var enumNote string
	for k, v := range m {
		switch k {
		case "type", "format", "const", "additionalProperties":
			if sub, isMap := v.(map[string]any); isMap {
				out[k] = s.shape(sub, depth-1, s.nestedDesc)
			} else {
				out[k] = v
			}
		case "required":
			out[k] = v
		case "enum":
			list, _ := v.([]any)
			if len(list) <= s.lvl.enumMax {
				out[k] = v
			} else {
				enumNote = enumSample(list)
			}
		case "description":
			if text, isString := v.(string); isString && desc > 0 {
				if q := s.cache.untrusted(text, desc); q != "" {
					out[k] = q
				}
			}
		case "properties":
			props, _ := v.(map[string]any)
			shaped := make(map[string]any, len(props))
			for name, p := range props {
				shaped[name] = s.shape(p, depth-1, s.nestedDesc)
			}
			out[k] = shaped
		case "items":
			out[k] = s.shape(v, depth-1, s.nestedDesc)
		case "anyOf", "oneOf", "allOf":
			list, _ := v.([]any)
			members := make([]any, 0, len(list))
			for _, member := range list {
				members = append(members, s.shape(member, depth, s.nestedDesc))
			}
			out[k] = dedupe(members)
		case "examples", "title", "pattern", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
			"minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "multipleOf", "deprecated":
			if s.lvl.extras {
				out[k] = v
			}
		}
	}
	if enumNote != "" {
		out["description"] = strings.TrimSpace(enumNote + " " + asString(out["description"]))
	}
	return out
}

// collapse keeps a schema's type and, for objects, its required fields
// (collapsed in turn): what is left below the depth cut.
func collapse(m map[string]any, depth int) any {
	out := map[string]any{}
	if types := typesOf(m); len(types) == 1 {
		out["type"] = types[0]
	} else if len(types) > 1 {
		out["type"] = types
	}
	required, _ := m["required"].([]any)
	props, _ := m["properties"].(map[string]any)
	if len(required) == 0 || len(props) == 0 || depth == 0 {
		return out
	}
	kept := map[string]any{}
	var names []any
	for _, r := range required {
		if name, ok := r.(string); ok {
			if p, ok := props[name].(map[string]any); ok {
				kept[name] = collapse(p, depth-1)
				names = append(names, name)
			}
		}
	}
	if len(kept) > 0 {
		out["properties"] = kept
		out["required"] = names
	}
	return out
}

// typesOf returns a schema's types, or the union of its members' types.
func typesOf(m map[string]any) []string {
	switch t := m["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	var out []string
	for _, key := range [...]string{"anyOf", "oneOf", "allOf"} {
		list, _ := m[key].([]any)
		for _, member := range list {
			if mm, ok := member.(map[string]any); ok {
				for _, t := range typesOf(mm) {
					if !slices.Contains(out, t) {
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}

// dedupe drops members that render the same as an earlier one (trimming
// often makes alternatives identical).
func dedupe(members []any) []any {
	if len(members) < 2 {
		return members
	}
	seen := make(map[string]bool, len(members))
	out := members[:0]
	var buf []byte
	for _, m := range members {
		buf = appendJSON(buf[:0], m)
		if seen[string(buf)] {
			continue
		}
		seen[string(buf)] = true
		out = append(out, m)
	}
	return out
}

// enumSample describes an enum too long to list.
func enumSample(list []any) string {
	const shown = 5
	parts := make([]string, 0, shown)
	for _, v := range list[:min(len(list), shown)] {
		b, err := json.Marshal(v)
		if err == nil {
			parts = append(parts, string(b))
		}
	}
	return fmt.Sprintf("(one of %d values, e.g. %s)", len(list), cleanText(strings.Join(parts, ", ")))
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// runes resolves a level's rune budget: -1 means the option's maximum.
func runes(budget, maximum int) int {
	if budget < 0 {
		return maximum
	}
	return min(budget, maximum)
}
