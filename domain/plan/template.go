package plan

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Template is a string value of a plan: literal text with "${ expression }"
// parts. A template that is exactly one expression (Whole) evaluates to the
// expression's value with its type; otherwise the parts are joined into a
// string. "$${" stands for a literal "${".
type Template struct {
	parts []templatePart
}

type templatePart struct {
	text string // literal text, when expr is empty
	expr string
}

// ParseTemplate splits s into literal text and expressions. It fails on a
// "${" without its closing brace; the expressions are not compiled.
func ParseTemplate(s string) (Template, error) {
	var t Template
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			t.parts = append(t.parts, templatePart{text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			text.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end, ok := closingBrace(s, i+2)
			if !ok {
				return Template{}, fmt.Errorf("%w: %q at byte %d has no closing brace", ErrExpression, "${", i)
			}
			flush()
			t.parts = append(t.parts, templatePart{expr: strings.TrimSpace(s[i+2 : end])})
			i = end + 1
		default:
			text.WriteByte(s[i])
			i++
		}
	}
	flush()
	return t, nil
}

// closingBrace finds the "}" that closes an expression starting at start,
// skipping braces inside string literals and nested map literals.
func closingBrace(s string, start int) (int, bool) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, true
			}
			depth--
		}
	}
	return 0, false
}

// HasExpressions reports whether the template has any expression.
func (t Template) HasExpressions() bool {
	for _, p := range t.parts {
		if p.isExpr() {
			return true
		}
	}
	return false
}

// isExpr reports whether the part is an expression (literal parts are
// never empty).
func (p templatePart) isExpr() bool { return p.text == "" }

// Whole reports whether the template is one expression and nothing else.
func (t Template) Whole() bool {
	return len(t.parts) == 1 && t.parts[0].isExpr()
}

// Expressions returns the template's expression sources in order.
func (t Template) Expressions() []string {
	var out []string
	for _, p := range t.parts {
		if p.isExpr() {
			out = append(out, p.expr)
		}
	}
	return out
}

// Eval evaluates the template in env: a Whole template gives its
// expression's value, any other one a string.
func (t Template) Eval(env Env) (any, error) {
	if t.Whole() {
		e, err := Compile(t.parts[0].expr)
		if err != nil {
			return nil, err
		}
		return e.Eval(env)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if !p.isExpr() {
			b.WriteString(p.text)
			continue
		}
		e, err := Compile(p.expr)
		if err != nil {
			return nil, err
		}
		v, err := e.Eval(env)
		if err != nil {
			return nil, err
		}
		b.WriteString(interpolate(v))
	}
	return b.String(), nil
}

// Resolve returns value with every template in it (strings at any depth of
// objects and arrays) replaced by its evaluation in env. The value is copied,
// not modified.
func Resolve(value any, env Env) (any, error) {
	switch v := value.(type) {
	case string:
		t, err := ParseTemplate(v)
		if err != nil {
			return nil, err
		}
		if !t.HasExpressions() {
			return literalText(t), nil
		}
		return t.Eval(env)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			r, err := Resolve(item, env)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			r, err := Resolve(item, env)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	}
	return value, nil
}

// literalText returns the text of a template without expressions, "$${"
// unescaped: at most one literal part.
func literalText(t Template) string {
	if len(t.parts) == 0 {
		return ""
	}
	return t.parts[0].text
}

// interpolate renders an expression value inside a larger string: text as
// is, numbers in their shortest form, null as nothing, lists and objects as
// JSON.
func interpolate(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
