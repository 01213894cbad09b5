package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"

	"github.com/apiq/apiq/adapters/openapi"
)

// Validate checks a plan against the catalogue it may call and returns
// every problem found (at most MaxProblems), in plan order; none means the
// plan is valid. It checks that step ids are unique identifiers; that every
// call names an operation of the catalogue, passes its required
// parameters, no undeclared or credential parameters, and literal values
// that match the parameter and body schemas (type, enum, const, simple
// formats, required and closed object fields); that expressions compile and
// refer only to declared inputs and earlier steps, through fields the
// referenced operation's success response schema has; that foreach loops
// iterate over lists within bounds; and that conditions gate later steps.
func Validate(p Plan, cat Catalogue) Problems {
	v := &validator{
		plan:      p,
		cat:       cat,
		schemas:   schemaCache{},
		positions: map[string]position{},
		outputs:   map[string]any{},
		inputs:    map[string]Input{},
	}
	v.run()
	return v.problems
}

// position locates a step: top is its index among the top-level steps (its
// foreach's for a body step), body its index in the body or -1.
type position struct {
	top, body int
	foreach   string
}

// scope is where an expression is written: which step, and what it sees.
type scope struct {
	step   string
	top    int
	body   int
	inBody bool
	item   any // the schema of "item" in a foreach body
}

type validator struct {
	plan      Plan
	cat       Catalogue
	schemas   schemaCache
	positions map[string]position
	outputs   map[string]any
	inputs    map[string]Input
	problems  Problems
	full      bool
}

func (v *validator) add(step, field, code, message string) {
	if v.full {
		return
	}
	if len(v.problems) == MaxProblems-1 {
		v.problems = append(v.problems, Problem{Code: CodeTooManyProblems,
			Message: fmt.Sprintf("more than %d problems; fix these first", MaxProblems-1)})
		v.full = true
		return
	}
	v.problems = append(v.problems, Problem{Step: step, Field: field, Code: code, Message: message})
}

func (v *validator) addAll(step string, ps []Problem) {
	for _, p := range ps {
		v.add(step, p.Field, p.Code, p.Message)
	}
}

func (v *validator) run() {
	if len(v.plan.Steps) == 0 {
		v.add("", "steps", CodeEmptyPlan, "the plan has no steps")
		return
	}
	v.checkInputs()
	v.index()
	for i := range v.plan.Steps {
		s := &v.plan.Steps[i]
		sc := scope{step: s.ID, top: i, body: -1}
		if !v.checkParts(s) {
			continue
		}
		switch s.Kind {
		case KindCall:
			v.checkCall(sc, s)
		case KindCondition:
			v.checkCondition(sc, i, s)
		case KindForeach:
			v.checkForeach(sc, s)
		case KindTransform:
			v.checkExpression(sc, "transform.expr", s.Transform.Expr, false)
		}
	}
}

// reservedIDs are words of the expression language that cannot follow a
// dot ("steps.in").
var reservedIDs = []string{"in", "not", "and", "or", "true", "false", "nil", "let", "if", "else",
	"matches", "contains", "startsWith", "endsWith"}

// validID reports whether id can name a step or an input.
func validID(id string) bool {
	if id == "" || len(id) > MaxIDLength || slices.Contains(reservedIDs, id) {
		return false
	}
	for i, r := range id {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r != '_' && (r < '0' || r > '9')) {
			return false
		}
	}
	return true
}

var inputTypes = []string{"", "string", "integer", "number", "boolean", "array", "object"}

func (v *validator) checkInputs() {
	if len(v.plan.Inputs) > MaxInputs {
		v.add("", "inputs", CodeInvalidInput, fmt.Sprintf("at most %d inputs", MaxInputs))
	}
	for i, in := range v.plan.Inputs {
		field := fmt.Sprintf("inputs[%d]", i)
		switch {
		case !validID(in.Name):
			v.add("", field+".name", CodeInvalidID, fmt.Sprintf(
				"input name %q must start with a letter and hold only letters, digits and _ (at most %d)", in.Name, MaxIDLength))
			continue
		case v.inputs[in.Name].Name != "":
			v.add("", field+".name", CodeDuplicateID, fmt.Sprintf("input %q is declared twice", in.Name))
			continue
		case !slices.Contains(inputTypes, in.Type):
			v.add("", field+".type", CodeInvalidInput, fmt.Sprintf(
				"input type %q is not one of string, integer, number, boolean, array, object", in.Type))
		case in.Default != nil && in.Type != "":
			v.addAll("", checkLiteral(map[string]any{"type": in.Type}, in.Default, field+".default", 0))
		}
		v.inputs[in.Name] = in
	}
}

// index records every step's position and output schema.
func (v *validator) index() {
	total := 0
	record := func(s *Step, pos position, field string) {
		total++
		switch _, taken := v.positions[s.ID]; {
		case !validID(s.ID):
			v.add(s.ID, field+".id", CodeInvalidID, fmt.Sprintf(
				"step id %q must start with a letter, hold only letters, digits and _ (at most %d) and not be an operator word", s.ID, MaxIDLength))
		case taken:
			v.add(s.ID, field+".id", CodeDuplicateID, fmt.Sprintf("step id %q is used by an earlier step", s.ID))
		default:
			v.positions[s.ID] = pos
			v.outputs[s.ID] = v.outputSchema(s)
		}
	}
	for i := range v.plan.Steps {
		s := &v.plan.Steps[i]
		record(s, position{top: i, body: -1}, fmt.Sprintf("steps[%d]", i))
		if s.Kind != KindForeach || s.Foreach == nil {
			continue
		}
		props := map[string]any{}
		for j := range s.Foreach.Steps {
			b := &s.Foreach.Steps[j]
			record(b, position{top: i, body: j, foreach: s.ID}, fmt.Sprintf("steps[%d].foreach.steps[%d]", i, j))
			if validID(b.ID) {
				props[b.ID] = v.outputSchema(b)
			}
		}
		if _, own := v.positions[s.ID]; own && v.positions[s.ID].top == i {
			v.outputs[s.ID] = map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": props}}
		}
	}
	if total > MaxSteps {
		v.add("", "steps", CodeTooManySteps, fmt.Sprintf("the plan has %d steps; at most %d", total, MaxSteps))
	}
}

// outputSchema is the schema of a step's output as far as it is known.
func (v *validator) outputSchema(s *Step) any {
	switch {
	case s.Kind == KindCondition:
		return map[string]any{"type": "boolean"}
	case s.Kind == KindCall && s.Call != nil:
		op, ok := v.cat.Operation(s.Call.Ref())
		if !ok {
			return nil
		}
		return v.responseSchema(op)
	}
	return nil
}

// responseSchema is the schema of an operation's success body: unknown
// when no success response is declared or one has content without a
// schema, noBody when they are all empty, one of them otherwise.
func (v *validator) responseSchema(op openapi.Operation) any {
	var schemas []any
	success := false
	for _, r := range op.Responses {
		if len(r.Status) != 3 || r.Status[0] != '2' {
			continue
		}
		success = true
		switch {
		case len(r.Schema) > 0:
			schemas = append(schemas, v.schemas.decode(r.Schema))
		case len(r.ContentTypes) > 0:
			return nil
		}
	}
	switch {
	case !success:
		return nil
	case len(schemas) == 0:
		return noBody{}
	case len(schemas) == 1:
		return schemas[0]
	}
	return map[string]any{"anyOf": schemas}
}

// checkParts checks that the step's kind is known and only its part is set.
func (v *validator) checkParts(s *Step) bool {
	parts := map[Kind]bool{KindCall: s.Call != nil, KindCondition: s.Condition != nil,
		KindForeach: s.Foreach != nil, KindTransform: s.Transform != nil}
	has, known := parts[s.Kind]
	if !known {
		v.add(s.ID, "kind", CodeInvalidKind, fmt.Sprintf("kind %q is not one of call, condition, foreach, transform", s.Kind))
		return false
	}
	if !has {
		v.add(s.ID, string(s.Kind), CodeInvalidKind, fmt.Sprintf("a %s step needs its %q object", s.Kind, s.Kind))
		return false
	}
	for _, k := range []Kind{KindCall, KindCondition, KindForeach, KindTransform} {
		if k != s.Kind && parts[k] {
			v.add(s.ID, string(k), CodeInvalidKind, fmt.Sprintf("a %s step must not have a %q object", s.Kind, k))
		}
	}
	return true
}

// paramLocations are the parameter locations a call sets, in check order.
var paramLocations = []string{"path", "query", "header"}

func (c *Call) params(in string) map[string]any {
	switch in {
	case "path":
		return c.Path
	case "query":
		return c.Query
	}
	return c.Header
}

func (v *validator) checkCall(sc scope, s *Step) {
	c := s.Call
	if c.ConnectionID == "" || c.OperationID == "" {
		v.add(s.ID, "call", CodeMissingOperation, "a call needs connection_id and operation_id")
		return
	}
	op, ok := v.cat.Operation(c.Ref())
	if !ok {
		v.add(s.ID, "call.operation_id", CodeUnknownOperation, fmt.Sprintf(
			"operation %q does not exist in connection %q; use only the operations offered", c.OperationID, c.ConnectionID))
		return
	}
	if c.SideEffect != "" && c.SideEffect != op.SideEffect {
		v.add(s.ID, "call.side_effect", CodeSideEffectMismatch, fmt.Sprintf(
			"the operation is %s, not %s", op.SideEffect, c.SideEffect))
	}
	declared := map[string]openapi.Parameter{}
	for _, p := range op.Parameters {
		declared[paramKey(p.In, p.Name)] = p
	}
	for _, in := range paramLocations {
		values := c.params(in)
		for _, name := range sortedKeys(values) {
			field := "call." + in + "." + name
			if IsCredentialParameter(name) {
				v.add(s.ID, field, CodeCredentialParameter, fmt.Sprintf(
					"%q carries credentials, which APIQ adds from the connection; remove it", name))
				continue
			}
			p, ok := declared[paramKey(in, name)]
			if !ok {
				v.add(s.ID, field, CodeUnknownParameter, unknownParameter(op, in, name))
				continue
			}
			v.addAll(s.ID, checkLiteral(v.schemas.decode(p.Schema), values[name], field, 0))
			v.checkValueExpressions(sc, field, values[name])
		}
	}
	for _, p := range op.Parameters {
		if !p.Required || p.In == "cookie" || IsCredentialParameter(p.Name) {
			continue
		}
		if _, given := lookupParam(c.params(p.In), p.In, p.Name); !given {
			v.add(s.ID, "call."+p.In+"."+p.Name, CodeMissingParameter, fmt.Sprintf(
				"required %s parameter %q is missing", p.In, p.Name))
		}
	}
	v.checkBody(sc, s, op)
}

// paramKey keys a parameter by location and name; header names are
// case-insensitive.
func paramKey(in, name string) string {
	if in == "header" {
		name = strings.ToLower(name)
	}
	return in + "\x00" + name
}

// lookupParam finds a parameter value, header names case-insensitively.
func lookupParam(values map[string]any, in, name string) (any, bool) {
	if v, ok := values[name]; ok {
		return v, true
	}
	if in == "header" {
		for k, v := range values {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
	}
	return nil, false
}

// unknownParameter explains an undeclared parameter, naming the location it
// belongs to when it is declared elsewhere, or the ones that exist.
func unknownParameter(op openapi.Operation, in, name string) string {
	var same []string
	for _, p := range op.Parameters {
		if strings.EqualFold(p.Name, name) && p.In != in {
			return fmt.Sprintf("%q is a %s parameter, not a %s one", p.Name, p.In, in)
		}
		if p.In == in {
			same = append(same, p.Name)
		}
	}
	if len(same) == 0 {
		return fmt.Sprintf("the operation has no %s parameters", in)
	}
	return fmt.Sprintf("the operation has no %s parameter %q (%s parameters: %s)", in, name, in, listNames(same))
}

func (v *validator) checkBody(sc scope, s *Step, op openapi.Operation) {
	c, rb := s.Call, op.RequestBody
	switch {
	case c.Body != nil && rb == nil:
		v.add(s.ID, "call.body", CodeUnexpectedBody, "the operation takes no request body")
	case c.Body == nil && rb != nil && rb.Required:
		v.add(s.ID, "call.body", CodeMissingBody, "the operation requires a request body")
	case c.Body != nil:
		v.addAll(s.ID, checkLiteral(v.schemas.decode(rb.Schema), c.Body, "call.body", 0))
		v.checkValueExpressions(sc, "call.body", c.Body)
	}
}

// checkValueExpressions checks every template in a value.
func (v *validator) checkValueExpressions(sc scope, field string, value any) {
	switch x := value.(type) {
	case string:
		t, err := ParseTemplate(x)
		if err != nil {
			v.add(sc.step, field, CodeInvalidExpression, err.Error())
			return
		}
		for _, src := range t.Expressions() {
			v.checkExpression(sc, field, src, false)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			v.checkValueExpressions(sc, joinField(field, k), x[k])
		}
	case []any:
		for i, item := range x {
			v.checkValueExpressions(sc, fmt.Sprintf("%s[%d]", field, i), item)
		}
	}
}

// checkExpression compiles an expression and checks its references. When
// the whole expression is one reference, it returns the schema of its
// value and whether that schema is known.
func (v *validator) checkExpression(sc scope, field, src string, asBool bool) (any, bool) {
	var opts []expr.Option
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	e, err := compile(src, opts...)
	if err != nil {
		v.add(sc.step, field, CodeInvalidExpression, err.Error())
		return nil, false
	}
	refs, whole, err := references(e.Source())
	if err != nil {
		v.add(sc.step, field, CodeInvalidExpression, fmt.Sprintf("%s: %s", ErrExpression, oneLine(err.Error())))
		return nil, false
	}
	var wholeSchema any
	wholeKnown := false
	for i := range refs {
		schema, known := v.checkReference(sc, field, refs[i])
		if whole == &refs[i] {
			wholeSchema, wholeKnown = schema, known
		}
	}
	return wholeSchema, wholeKnown
}

// checkReference checks one reference and returns the schema of the value
// it names, when known.
func (v *validator) checkReference(sc scope, field string, ref reference) (any, bool) {
	path := ref.path
	switch ref.root {
	case rootEnv:
		v.add(sc.step, field, CodeInvalidReference, "$env is not allowed; refer to inputs, steps or item")
	case rootItem:
		if !sc.inBody {
			v.add(sc.step, field, CodeItemOutsideForeach, "item exists only inside a foreach body")
			return nil, false
		}
		return v.walk(sc, field, ref, sc.item, 0)
	case rootInputs:
		if len(path) == 0 || path[0].dynamic {
			return nil, false
		}
		in, declared := v.inputs[path[0].name]
		if path[0].isIndex || !declared {
			known := "it declares none"
			if len(v.inputs) > 0 {
				known = "inputs: " + listNames(sortedKeys(v.inputs))
			}
			v.add(sc.step, field, CodeUnknownInput, fmt.Sprintf("%s: the plan declares no such input (%s)", ref, known))
			return nil, false
		}
		if in.Type == "" {
			return nil, false
		}
		return v.walk(sc, field, ref, map[string]any{"type": in.Type}, 1)
	case rootSteps:
		return v.checkStepReference(sc, field, ref)
	}
	return nil, false
}

func (v *validator) checkStepReference(sc scope, field string, ref reference) (any, bool) {
	path := ref.path
	if len(path) == 0 || path[0].dynamic || path[0].isIndex {
		v.add(sc.step, field, CodeInvalidReference, fmt.Sprintf(
			"%s: refer to one step by its id, as in steps.<id>.output", ref))
		return nil, false
	}
	id := path[0].name
	target, ok := v.positions[id]
	if !ok {
		v.add(sc.step, field, CodeUnknownStep, fmt.Sprintf("%s: there is no step %q", ref, id))
		return nil, false
	}
	switch {
	case target.body >= 0 && !(sc.inBody && sc.top == target.top):
		v.add(sc.step, field, CodeBodyStepReference, fmt.Sprintf(
			"%s: step %q runs inside foreach %q; outside it use steps.%s.output[i].%s",
			ref, id, target.foreach, target.foreach, id))
		return nil, false
	case target.body >= 0 && target.body >= sc.body, target.body < 0 && target.top >= sc.top:
		v.add(sc.step, field, CodeForwardReference, fmt.Sprintf(
			"%s: step %q does not run before step %q; refer only to earlier steps", ref, id, sc.step))
		return nil, false
	}
	if len(path) == 1 || path[1].dynamic {
		return nil, false
	}
	switch path[1].name {
	case "status":
		return v.walk(sc, field, ref, map[string]any{"type": "integer"}, 2)
	case "output":
		return v.walk(sc, field, ref, v.outputs[id], 2)
	}
	v.add(sc.step, field, CodeInvalidReference, fmt.Sprintf("%s: a step result has only output and status", ref))
	return nil, false
}

// walk follows ref's path from segment from on, starting at schema.
func (v *validator) walk(sc scope, field string, ref reference, schema any, from int) (any, bool) {
	cur := schema
	for i := from; i < len(ref.path); i++ {
		next, state, why := descend(cur, ref.path[i])
		switch state {
		case lookupUnknown:
			return nil, false
		case lookupMissing:
			prefix := reference{root: ref.root, path: ref.path[:i]}
			v.add(sc.step, field, CodeMissingResponseField, fmt.Sprintf("%s: %s does not have %s: %s",
				ref, prefix, strings.TrimPrefix(ref.path[i].String(), "."), why))
			return nil, false
		}
		cur = next
	}
	return cur, cur != nil
}

func (v *validator) checkCondition(sc scope, i int, s *Step) {
	v.checkExpression(sc, "condition.expr", s.Condition.Expr, true)
	seen := map[string]bool{}
	for _, branch := range []struct {
		name string
		ids  []string
	}{{"then", s.Condition.Then}, {"else", s.Condition.Else}} {
		for k, id := range branch.ids {
			field := fmt.Sprintf("condition.%s[%d]", branch.name, k)
			target, ok := v.positions[id]
			switch {
			case !ok:
				v.add(s.ID, field, CodeInvalidBranch, fmt.Sprintf("there is no step %q", id))
			case target.body >= 0:
				v.add(s.ID, field, CodeInvalidBranch, fmt.Sprintf(
					"step %q is inside foreach %q; gate the foreach instead", id, target.foreach))
			case target.top <= i:
				v.add(s.ID, field, CodeInvalidBranch, fmt.Sprintf(
					"step %q does not come after the condition; a condition gates only later steps", id))
			case seen[id]:
				v.add(s.ID, field, CodeInvalidBranch, fmt.Sprintf("step %q is listed twice", id))
			}
			seen[id] = true
		}
	}
}

func (v *validator) checkForeach(sc scope, s *Step) {
	f := s.Foreach
	schema, known := v.checkExpression(sc, "foreach.items", f.Items, false)
	var item any
	if known {
		next, state, why := descend(schema, segment{dynamic: true})
		switch state {
		case lookupFound:
			item = next
		case lookupMissing:
			v.add(s.ID, "foreach.items", CodeNotAList, fmt.Sprintf("%s does not produce a list: %s",
				unwrapTemplate(f.Items), why))
		}
		if m, ok := schema.(map[string]any); ok && state != lookupMissing {
			if types := schemaTypes(m); len(types) > 0 && !slices.Contains(types, "array") {
				v.add(s.ID, "foreach.items", CodeNotAList, fmt.Sprintf("%s is %s, not a list",
					unwrapTemplate(f.Items), strings.Join(types, " or ")))
			}
		}
	}
	if f.MaxIterations < 1 || f.MaxIterations > MaxForeachIterations {
		v.add(s.ID, "foreach.max_iterations", CodeInvalidBound, fmt.Sprintf(
			"max_iterations must be between 1 and %d", MaxForeachIterations))
	}
	switch n := len(f.Steps); {
	case n == 0:
		v.add(s.ID, "foreach.steps", CodeInvalidBody, "a foreach needs at least one step")
	case n > MaxForeachBodySteps:
		v.add(s.ID, "foreach.steps", CodeInvalidBody, fmt.Sprintf("a foreach has at most %d steps", MaxForeachBodySteps))
	}
	for j := range f.Steps {
		b := &f.Steps[j]
		if b.Kind != KindCall {
			v.add(b.ID, "kind", CodeInvalidBody, fmt.Sprintf("a foreach body holds call steps only, not %q", b.Kind))
			continue
		}
		if v.checkParts(b) {
			v.checkCall(scope{step: b.ID, top: sc.top, body: j, inBody: true, item: item}, b)
		}
	}
}
