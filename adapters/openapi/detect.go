package openapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Format is the notation a document was written in.
type Format string

// The notations Import reads.
const (
	FormatJSON Format = "json"
	FormatYAML Format = "yaml"
)

// family is the specification family a document declares.
type family int

const (
	familySwagger2 family = iota + 1
	familyOpenAPI30
	familyOpenAPI31
)

// declaredVersion is what the document says about itself at its root.
type declaredVersion struct {
	field  string // "openapi" or "swagger"
	value  string
	family family
}

// detectFormat tells JSON from YAML by the first significant byte: JSON
// documents are objects, so they start with '{'.
func detectFormat(data []byte) Format {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return FormatJSON
	}
	return FormatYAML
}

// detectVersion reads the root "openapi" or "swagger" field without decoding
// the whole document, and says which family it belongs to.
func detectVersion(data []byte, format Format) (declaredVersion, *ImportError) {
	field, value, ok := "", "", false
	if format == FormatJSON {
		field, value, ok = scanJSONVersion(data)
	}
	if !ok {
		field, value, ok = scanYAMLVersion(data)
	}
	if !ok {
		var err *ImportError
		field, value, err = decodeVersionFields(data)
		if err != nil {
			return declaredVersion{}, err
		}
	}
	return classifyVersion(field, value)
}

// classifyVersion maps the declared version onto a supported family.
func classifyVersion(field, value string) (declaredVersion, *ImportError) {
	v := declaredVersion{field: field, value: value}
	switch {
	case field == "":
		return v, newImportError(nil, Problem{
			Code:    CodeMissingField,
			Message: `the document declares no version: expected an "openapi" (3.x) or "swagger" (2.0) field at its root`,
		})
	case field == "swagger" && (value == "2.0" || value == "2"):
		v.family = familySwagger2
	case field == "openapi" && (value == "3.0" || strings.HasPrefix(value, "3.0.")):
		v.family = familyOpenAPI30
	case field == "openapi" && (value == "3.1" || strings.HasPrefix(value, "3.1.")):
		v.family = familyOpenAPI31
	default:
		return v, newImportError(nil, Problem{
			Code:    CodeUnsupportedVersion,
			Message: fmt.Sprintf("%s version %q is not supported: APIQ imports Swagger 2.0, OpenAPI 3.0 and OpenAPI 3.1", field, value),
			Pointer: "/" + field,
		})
	}
	return v, nil
}

// scanJSONVersion reads the root object's keys until it meets the version
// field; it usually comes first, so the rest of the document is not read.
func scanJSONVersion(data []byte) (field, value string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", false
		}
		key, _ := tok.(string)
		if key == "openapi" || key == "swagger" {
			var v any
			if err := dec.Decode(&v); err != nil {
				return "", "", false
			}
			return key, scalarText(v), true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", "", false
		}
	}
	// A complete object without a version field: say so without a full parse.
	return "", "", true
}

// scanYAMLVersion looks for a root-level "openapi:" or "swagger:" line. It
// handles block-style documents, which is what YAML OpenAPI documents are;
// anything else falls back to a full decode.
func scanYAMLVersion(data []byte) (field, value string, ok bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' || line[0] == '%' {
			continue
		}
		key, rest, found := strings.Cut(line, ":")
		if !found {
			return "", "", false
		}
		key = strings.Trim(key, `"'`)
		if key != "openapi" && key != "swagger" {
			continue
		}
		rest = strings.TrimSpace(rest)
		if i := strings.Index(rest, " #"); i >= 0 {
			rest = strings.TrimSpace(rest[:i])
		}
		if unq, err := strconv.Unquote(rest); err == nil {
			rest = unq
		} else {
			rest = strings.Trim(rest, "'")
		}
		return key, rest, true
	}
	return "", "", false
}

// decodeVersionFields reads the root of an unusual document (flow style,
// anchors, tags) through the YAML parser, which also reads JSON.
func decodeVersionFields(data []byte) (field, value string, err *ImportError) {
	tree, perr := parseSourceTree(data)
	if perr != nil {
		return "", "", syntaxError(perr, data)
	}
	root := tree.root
	if root == nil || root.Kind != yaml.MappingNode {
		return "", "", newImportError(nil, Problem{
			Code:    CodeInvalidDocument,
			Message: "an OpenAPI document must be an object (a mapping) at its root",
			Line:    lineOf(root), Column: columnOf(root),
		})
	}
	for _, key := range []string{"openapi", "swagger"} {
		if node := child(root, key); node != nil {
			return key, node.Value, nil
		}
	}
	return "", "", nil
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func columnOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Column
}

// scalarText renders a decoded version value as the text it was written as.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
