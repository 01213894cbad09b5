package plan

import (
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// The names an expression can start from.
const (
	rootInputs = "inputs"
	rootSteps  = "steps"
	rootItem   = "item"
	rootEnv    = "$env"
)

// reference is one use of a name of the environment: a root and the
// member accesses that follow it ("steps.a.output.results[0].id").
type reference struct {
	root string
	path []segment
}

// segment is one member access: a property name, a constant index, or a
// computed one (dynamic).
type segment struct {
	name    string
	index   int
	isIndex bool
	dynamic bool
}

// String renders the reference the way a plan writes it.
func (r reference) String() string {
	var b strings.Builder
	b.WriteString(r.root)
	for _, s := range r.path {
		b.WriteString(s.String())
	}
	return b.String()
}

func (s segment) String() string {
	switch {
	case s.dynamic:
		return "[*]"
	case s.isIndex:
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return "." + s.name
}

// references lists the uses of environment names in an expression, each
// longest member chain once; whole is set when the entire expression is one
// such chain. Chains that start elsewhere (a predicate's "#", a variable,
// a call's result) are not followed.
func references(source string) (refs []reference, whole *reference, err error) {
	tree, err := parser.Parse(source)
	if err != nil {
		return nil, nil, err
	}
	inner := map[ast.Node]bool{}
	var chains []ast.Node
	ast.Walk(&tree.Node, visitor(func(n ast.Node) {
		switch x := n.(type) {
		case *ast.MemberNode:
			inner[unchain(x.Node)] = true
			chains = append(chains, x)
		case *ast.IdentifierNode:
			chains = append(chains, x)
		}
	}))
	top := unchain(tree.Node)
	wholeAt := -1
	for _, n := range chains {
		if inner[n] {
			continue
		}
		ref, ok := chainReference(n)
		if !ok {
			continue
		}
		refs = append(refs, ref)
		if n == top {
			wholeAt = len(refs) - 1
		}
	}
	if wholeAt >= 0 {
		whole = &refs[wholeAt]
	}
	return refs, whole, nil
}

// chainReference reads a member chain back to its root identifier.
func chainReference(n ast.Node) (reference, bool) {
	var path []segment
	for {
		switch x := n.(type) {
		case *ast.IdentifierNode:
			for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
				path[i], path[j] = path[j], path[i]
			}
			return reference{root: x.Value, path: path}, true
		case *ast.MemberNode:
			if x.Method {
				return reference{}, false
			}
			path = append(path, propertySegment(x.Property))
			n = unchain(x.Node)
		default:
			return reference{}, false
		}
	}
}

// propertySegment turns a member's property into a segment.
func propertySegment(p ast.Node) segment {
	switch x := p.(type) {
	case *ast.StringNode:
		return segment{name: x.Value}
	case *ast.IntegerNode:
		return segment{index: x.Value, isIndex: true}
	case *ast.UnaryNode:
		if i, ok := x.Node.(*ast.IntegerNode); ok && x.Operator == "-" {
			return segment{index: -i.Value, isIndex: true}
		}
	}
	return segment{dynamic: true}
}

// unchain looks through optional-chaining groups ("a?.b").
func unchain(n ast.Node) ast.Node {
	for {
		c, ok := n.(*ast.ChainNode)
		if !ok {
			return n
		}
		n = c.Node
	}
}

// visitor adapts a function to ast.Visitor.
type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }
