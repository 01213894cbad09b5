package openapi

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// CatalogueDiff is what changed between two catalogues of the same connection.
type CatalogueDiff struct {
	Added   []OperationRef    `json:"added,omitempty"`
	Removed []OperationRef    `json:"removed,omitempty"`
	Changed []OperationChange `json:"changed,omitempty"`
}

// Empty reports whether nothing changed.
func (d CatalogueDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// OperationRef names an operation.
type OperationRef struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	OperationID string `json:"operation_id"`
}

// OperationChange names an operation present in both catalogues and says
// briefly what differs.
type OperationChange struct {
	OperationRef
	Changes []string `json:"changes"`
}

// Diff compares two catalogues by method and path: operations only in newOps
// are added, those only in oldOps removed, and those in both whose
// parameters, request body, responses (status, content types, success
// schemas), security or deprecation differ are changed, each change said in
// a short phrase. Results are sorted by path, then method.
func Diff(oldOps, newOps []Operation) CatalogueDiff {
	oldByKey := indexByKey(oldOps)
	newByKey := indexByKey(newOps)
	var d CatalogueDiff
	for _, key := range sortedKeys(newByKey) {
		n := newByKey[key]
		o, ok := oldByKey[key]
		if !ok {
			d.Added = append(d.Added, refOf(n))
			continue
		}
		if changes := operationChanges(o, n); len(changes) > 0 {
			d.Changed = append(d.Changed, OperationChange{OperationRef: refOf(n), Changes: changes})
		}
	}
	for _, key := range sortedKeys(oldByKey) {
		if _, ok := newByKey[key]; !ok {
			d.Removed = append(d.Removed, refOf(oldByKey[key]))
		}
	}
	sortRefs(d.Added)
	sortRefs(d.Removed)
	slices.SortFunc(d.Changed, func(a, b OperationChange) int { return compareRefs(a.OperationRef, b.OperationRef) })
	return d
}

func indexByKey(ops []Operation) map[string]Operation {
	m := make(map[string]Operation, len(ops))
	for _, op := range ops {
		m[op.Key()] = op
	}
	return m
}

func refOf(op Operation) OperationRef {
	return OperationRef{Method: op.Method, Path: op.Path, OperationID: op.OperationID}
}

func sortRefs(refs []OperationRef) {
	slices.SortFunc(refs, compareRefs)
}

func compareRefs(a, b OperationRef) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return slices.Index(methodOrder, a.Method) - slices.Index(methodOrder, b.Method)
}

// operationChanges describes how n differs from o, one phrase per change.
func operationChanges(o, n Operation) []string {
	var changes []string
	changes = append(changes, parameterChanges(o.Parameters, n.Parameters)...)
	changes = append(changes, bodyChanges(o.RequestBody, n.RequestBody)...)
	changes = append(changes, responseChanges(o.Responses, n.Responses)...)
	if !equalSecurity(o.Security, n.Security) {
		changes = append(changes, fmt.Sprintf("security changed from %s to %s", describeSecurity(o.Security), describeSecurity(n.Security)))
	}
	if o.Deprecated != n.Deprecated {
		if n.Deprecated {
			changes = append(changes, "now deprecated")
		} else {
			changes = append(changes, "no longer deprecated")
		}
	}
	return changes
}

func parameterChanges(oldParams, newParams []Parameter) []string {
	key := func(p Parameter) string { return p.In + " parameter " + p.Name }
	oldBy := map[string]Parameter{}
	for _, p := range oldParams {
		oldBy[key(p)] = p
	}
	newBy := map[string]Parameter{}
	for _, p := range newParams {
		newBy[key(p)] = p
	}
	var changes []string
	for _, k := range sortedKeys(newBy) {
		n := newBy[k]
		o, ok := oldBy[k]
		switch {
		case !ok && n.Required:
			changes = append(changes, "added required "+k)
		case !ok:
			changes = append(changes, "added "+k)
		case o.Required != n.Required && n.Required:
			changes = append(changes, k+" is now required")
		case o.Required != n.Required:
			changes = append(changes, k+" is now optional")
		case !bytes.Equal(o.Schema, n.Schema):
			changes = append(changes, k+" schema changed")
		}
	}
	for _, k := range sortedKeys(oldBy) {
		if _, ok := newBy[k]; !ok {
			changes = append(changes, "removed "+k)
		}
	}
	return changes
}

func bodyChanges(o, n *RequestBody) []string {
	switch {
	case o == nil && n == nil:
		return nil
	case o == nil:
		return []string{"request body added"}
	case n == nil:
		return []string{"request body removed"}
	}
	var changes []string
	if o.Required != n.Required {
		changes = append(changes, fmt.Sprintf("request body required changed to %t", n.Required))
	}
	if !slices.Equal(o.ContentTypes, n.ContentTypes) {
		changes = append(changes, fmt.Sprintf("request body content types changed from %v to %v", o.ContentTypes, n.ContentTypes))
	}
	if !bytes.Equal(o.Schema, n.Schema) {
		changes = append(changes, "request body schema changed")
	}
	return changes
}

func responseChanges(oldResponses, newResponses []Response) []string {
	oldBy := map[string]Response{}
	for _, r := range oldResponses {
		oldBy[r.Status] = r
	}
	newBy := map[string]Response{}
	for _, r := range newResponses {
		newBy[r.Status] = r
	}
	var changes []string
	for _, status := range sortedKeys(newBy) {
		n := newBy[status]
		o, ok := oldBy[status]
		switch {
		case !ok:
			changes = append(changes, "response "+status+" added")
		case !slices.Equal(o.ContentTypes, n.ContentTypes):
			changes = append(changes, fmt.Sprintf("response %s content types changed from %v to %v", status, o.ContentTypes, n.ContentTypes))
		case !bytes.Equal(o.Schema, n.Schema):
			changes = append(changes, "response "+status+" schema changed")
		}
	}
	for _, status := range sortedKeys(oldBy) {
		if _, ok := newBy[status]; !ok {
			changes = append(changes, "response "+status+" removed")
		}
	}
	return changes
}

func equalSecurity(a, b []SecurityAlternative) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return slices.EqualFunc(a, b, func(x, y SecurityAlternative) bool {
		return slices.EqualFunc(x, y, func(r, s SchemeRequirement) bool {
			return r.Scheme == s.Scheme && slices.Equal(r.Scopes, s.Scopes)
		})
	})
}

// describeSecurity renders a requirement briefly: "a+b or c", "none".
func describeSecurity(alts []SecurityAlternative) string {
	if alts == nil {
		return "none"
	}
	var parts []string
	for _, alt := range alts {
		if len(alt) == 0 {
			parts = append(parts, "anonymous")
			continue
		}
		var names []string
		for _, req := range alt {
			names = append(names, req.Scheme)
		}
		parts = append(parts, strings.Join(names, "+"))
	}
	return strings.Join(parts, " or ")
}
