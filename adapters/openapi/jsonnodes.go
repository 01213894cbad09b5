package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v4"
)

// maxJSONDepth bounds the nesting jsonNodeTree accepts (the YAML parser
// refuses deeper documents too).
const maxJSONDepth = 10_000

// jsonNodeTree builds the YAML node tree of a JSON document with
// encoding/json's tokenizer, as the YAML parser would build it: strings as
// double-quoted !!str scalars, numbers, booleans and null as plain scalars
// (typed by the YAML resolver, as the parser leaves them), objects as
// mappings and arrays as sequences, in document order.
// kin-openapi decodes OpenAPI 3 documents from such a tree; given the text,
// it builds the tree with the YAML scanner, which spends most of a large
// JSON document's load in its token queue. A document that is not strict
// JSON (a duplicate key, trailing data, invalid syntax) is an error: the
// caller then loads it the usual way, whose errors say where it is wrong.
func jsonNodeTree(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	b := &nodeBuilder{dec: dec}
	root, err := b.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("json: data after the document")
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}, nil
}

type nodeBuilder struct {
	dec *json.Decoder
}

// value reads one JSON value.
func (b *nodeBuilder) value(depth int) (*yaml.Node, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("json: nesting too deep")
	}
	tok, err := b.dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return b.object(depth)
		case '[':
			return b.array(depth)
		}
		return nil, fmt.Errorf("json: unexpected %q", rune(t))
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t, Style: yaml.DoubleQuotedStyle}, nil
	case json.Number:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: string(t)}, nil
	case bool:
		value := "false"
		if t {
			value = "true"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Value: value}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: "null"}, nil
	}
	return nil, fmt.Errorf("json: unexpected token %v", tok)
}

// object reads the members of an object whose '{' was read; a key given
// twice is an error, as the YAML parser makes it.
func (b *nodeBuilder) object(depth int) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
	var seen map[string]bool
	for b.dec.More() {
		tok, err := b.dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("json: object key %v is not a string", tok)
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		if seen[key] {
			return nil, fmt.Errorf("json: key %q given twice", key)
		}
		seen[key] = true
		v, err := b.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Style: yaml.DoubleQuotedStyle}, v)
	}
	if _, err := b.dec.Token(); err != nil { // '}'
		return nil, err
	}
	return n, nil
}

// array reads the elements of an array whose '[' was read.
func (b *nodeBuilder) array(depth int) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for b.dec.More() {
		v, err := b.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, v)
	}
	if _, err := b.dec.Token(); err != nil { // ']'
		return nil, err
	}
	return n, nil
}
