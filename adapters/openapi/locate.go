package openapi

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"
)

// sourceTree is the document's syntax tree, parsed only when a problem needs
// a line and column: JSON is YAML, so one parser serves both notations.
type sourceTree struct {
	root *yaml.Node
}

// parseSourceTree parses data into nodes; aliases stay unexpanded.
func parseSourceTree(data []byte) (*sourceTree, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return &sourceTree{root: root}, nil
}

// locate returns the position of the value at pointer, or of its deepest
// existing ancestor when the pointer leads nowhere (e.g. a path that exists
// only in the converted form of a Swagger 2.0 document).
func (t *sourceTree) locate(pointer string) (line, column int) {
	if t == nil || t.root == nil {
		return 0, 0
	}
	node := t.root
	for _, token := range splitPointer(pointer) {
		next := child(node, token)
		if next == nil {
			break
		}
		node = next
	}
	return node.Line, node.Column
}

// child follows one pointer token from node, through aliases.
func child(node *yaml.Node, token string) *yaml.Node {
	for node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == token {
				return node.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(token); err == nil && i >= 0 && i < len(node.Content) {
			return node.Content[i]
		}
	}
	return nil
}

// pointerAt returns the pointer of the shallowest node starting at line and
// column, the place a decoder reports a wrongly typed value.
func (t *sourceTree) pointerAt(line, column int) (string, bool) {
	if t == nil || t.root == nil || line == 0 {
		return "", false
	}
	if t.root.Line == line && t.root.Column == column {
		return "", true
	}
	return t.search(func(_ string, value *yaml.Node) bool {
		return value.Line == line && value.Column == column
	})
}

// findRef returns the pointer and position of the first "$ref" whose value is
// ref, in document order.
func (t *sourceTree) findRef(ref string) (pointer string, line, column int, found bool) {
	if t == nil || t.root == nil {
		return "", 0, 0, false
	}
	var hit *yaml.Node
	pointer, found = t.search(func(key string, value *yaml.Node) bool {
		if key == "$ref" && value.Kind == yaml.ScalarNode && value.Value == ref {
			hit = value
			return true
		}
		return false
	})
	if !found {
		return "", 0, 0, false
	}
	return pointer, hit.Line, hit.Column, true
}

// search walks the tree in document order (not through aliases) and returns
// the pointer of the first value match accepts; key is the mapping key or
// sequence index that leads to the value.
func (t *sourceTree) search(match func(key string, value *yaml.Node) bool) (string, bool) {
	var path []string
	var found string
	var visit func(n *yaml.Node) bool
	step := func(key string, value *yaml.Node) bool {
		path = append(path, key)
		defer func() { path = path[:len(path)-1] }()
		if match(key, value) {
			found = joinPointer(path)
			return true
		}
		return visit(value)
	}
	visit = func(n *yaml.Node) bool {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if step(n.Content[i].Value, n.Content[i+1]) {
					return true
				}
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				if step(strconv.Itoa(i), item) {
					return true
				}
			}
		}
		return false
	}
	if visit(t.root) {
		return found, true
	}
	return "", false
}

// splitPointer splits an RFC 6901 pointer into unescaped tokens.
func splitPointer(pointer string) []string {
	if pointer == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for i, p := range parts {
		parts[i] = unescapeToken(p)
	}
	return parts
}

// joinPointer builds an RFC 6901 pointer from raw tokens.
func joinPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// escapeToken escapes one pointer token ("~" → "~0", "/" → "~1").
func escapeToken(token string) string {
	if !strings.ContainsAny(token, "~/") {
		return token
	}
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// unescapeToken reverses escapeToken.
func unescapeToken(token string) string {
	if !strings.Contains(token, "~") {
		return token
	}
	return strings.ReplaceAll(strings.ReplaceAll(token, "~1", "/"), "~0", "~")
}

// pointerJoin appends raw tokens to an existing pointer.
func pointerJoin(base string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// refPointer turns a local $ref ("#/components/schemas/A") into a pointer.
func refPointer(ref string) (string, bool) {
	if !strings.HasPrefix(ref, "#") {
		return "", false
	}
	frag := strings.TrimPrefix(ref, "#")
	if frag != "" && !strings.HasPrefix(frag, "/") {
		return "", false
	}
	return frag, true
}

// lineColumn converts a byte offset into a 1-based line and column (in characters).
func lineColumn(data []byte, offset int64) (line, column int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	prefix := data[:offset]
	line = bytes.Count(prefix, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(prefix, '\n') + 1
	column = utf8.RuneCount(prefix[start:]) + 1
	return line, column
}
