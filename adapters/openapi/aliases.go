package openapi

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v4"
)

// minAliasAllowance is how many nodes aliases may add to a small document.
// A larger document may grow by its own size (aliases can at most double it),
// which keeps memory proportional to the input whatever the aliases do. The
// YAML decoder has a ratio check of its own, but it trips only while the
// decoder is already building values, says nothing of where, and lets a
// small document expand to ~400,000 nodes; this one refuses before anything
// is decoded and names the alias.
const minAliasAllowance = 200_000

// saturated caps node counts so that exponential expansions cannot overflow.
const saturated = int64(1) << 62

// checkAliases refuses YAML whose aliases would expand the document beyond
// the allowance, before any decoder expands them.
func checkAliases(data []byte, format Format) *ImportError {
	if format == FormatJSON && !hasBareYAMLIndicator(data) {
		return nil // real JSON has no anchors or aliases
	}
	if bytes.IndexByte(data, '&') < 0 {
		return nil // no anchor, so no alias can resolve
	}
	tree, err := parseSourceTree(data)
	if err != nil {
		return syntaxError(err, data)
	}
	parsed := countNodes(tree.root)
	allowance := max(parsed, minAliasAllowance)
	c := aliasCounter{sizes: map[*yaml.Node]int64{}, inProgress: map[*yaml.Node]bool{}}
	expanded := c.expandedSize(tree.root)
	if c.offender == nil && expanded-parsed <= allowance {
		return nil
	}
	p := Problem{Code: CodeAliasBomb}
	switch {
	case c.cycle:
		p.Message = "a YAML alias refers to a node that contains it, so it would expand forever"
	default:
		p.Message = fmt.Sprintf("YAML aliases would expand the document from %d to more than %d nodes; at most %d extra nodes are allowed",
			parsed, min(expanded, saturated), allowance)
	}
	if c.offender == nil {
		c.offender = c.largest
	}
	if c.offender != nil {
		p.Line, p.Column = c.offender.Line, c.offender.Column
		p.Pointer, _ = tree.pointerAt(p.Line, p.Column)
	}
	return newImportError(nil, p)
}

// aliasCounter sizes a node tree as a decoder would see it, aliases expanded.
type aliasCounter struct {
	sizes       map[*yaml.Node]int64 // expanded size of each anchored node
	inProgress  map[*yaml.Node]bool  // anchored nodes being sized (cycle detection)
	offender    *yaml.Node           // the first alias found to cycle
	cycle       bool
	largest     *yaml.Node // the alias with the largest expansion
	largestSize int64
}

// expandedSize returns the node count of n with every alias replaced by its target.
func (c *aliasCounter) expandedSize(n *yaml.Node) int64 {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil {
			return 1
		}
		if c.inProgress[target] {
			c.cycle = true
			if c.offender == nil {
				c.offender = n
			}
			return saturated
		}
		size, ok := c.sizes[target]
		if !ok {
			size = c.expandedSize(target)
		}
		if size > c.largestSize {
			c.largest, c.largestSize = n, size
		}
		return size
	}
	if n.Anchor != "" {
		if size, ok := c.sizes[n]; ok {
			return size
		}
		c.inProgress[n] = true
		defer delete(c.inProgress, n)
	}
	size := int64(1)
	for _, child := range n.Content {
		size = min(size+c.expandedSize(child), saturated)
	}
	if n.Anchor != "" {
		c.sizes[n] = size
	}
	return size
}

// countNodes counts the nodes written in the document (aliases count once).
func countNodes(n *yaml.Node) int64 {
	if n == nil {
		return 0
	}
	count := int64(1)
	for _, child := range n.Content {
		count += countNodes(child)
	}
	return count
}

// hasBareYAMLIndicator reports whether JSON-looking text holds an anchor or
// alias indicator outside string literals, i.e. is really YAML flow syntax.
func hasBareYAMLIndicator(data []byte) bool {
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case !inString && (b == '&' || b == '*'):
			return true
		}
	}
	return false
}
