// Package plan is the plan as typed data: ordered steps that call catalogue
// operations, gate steps on conditions, loop over lists and transform
// values; the expression language that connects them; and the validation
// that runs before anyone sees a plan. It does no I/O.
//
// # Steps
//
// A plan is {"inputs": [...], "steps": [...]}. Each step has an id (a
// letter, then letters, digits or "_"; unique in the plan), a kind and the
// object of that kind:
//
//	{"id": "find_movie", "kind": "call", "call": {
//	    "connection_id": "c1", "operation_id": "search-movie", "side_effect": "read",
//	    "query": {"query": "${ inputs.title }"}}}
//	{"id": "found", "kind": "condition", "condition": {
//	    "expr": "len(steps.find_movie.output.results) > 0", "then": ["details"], "else": []}}
//	{"id": "details", "kind": "call", "call": {"connection_id": "c1", "operation_id": "movie-details",
//	    "path": {"movie_id": "${ steps.find_movie.output.results[0].id }"}}}
//	{"id": "each", "kind": "foreach", "foreach": {
//	    "items": "steps.find_movie.output.results", "max_iterations": 5,
//	    "steps": [{"id": "credits", "kind": "call", "call": {..., "path": {"movie_id": "${ item.id }"}}}]}}
//	{"id": "titles", "kind": "transform", "transform": {"expr": "map(steps.find_movie.output.results, .title)"}}
//
// A call's path, query and header maps and its body hold JSON values. A
// condition's then/else list later top-level steps that run only when it
// is true (then) or false (else); they are skipped otherwise, and unlisted
// steps always run. A foreach runs its body of call steps once per element
// of its list, at most max_iterations (1..100) times. A transform computes a
// value.
//
// # Expressions
//
// Expressions are github.com/expr-lang/expr (https://expr-lang.org) over
// one environment, Env:
//
//	inputs.<name>              the plan's inputs
//	steps.<id>.output          a call's decoded response body, a condition's
//	                           boolean, a transform's value; for a foreach one
//	                           object per iteration mapping its body step ids
//	                           to their outputs: steps.each.output[0].credits
//	steps.<id>.status          a call's HTTP status code
//	item                       the current element, inside a foreach body
//
// Inside a foreach body, steps.<id> of a body step is its result in the
// current iteration; outside, the loop's results are read through
// steps.<foreach id>.output.
// A step that was skipped has a null output and status 0: use optional
// chaining (steps.a.output?.id) or ?? where that can happen.
//
// Inside a JSON value (a parameter, the body or anything nested in it), an
// expression is written in a string as "${ expression }". A string that is
// exactly one such expression takes the expression's value and type
// ("${ steps.a.output.results[0].id }" gives the number 550); a string with
// text around expressions is a string with their values spliced in
// ("Bearer of ${ item.name }"; numbers in shortest form, null as nothing,
// lists and objects as JSON). "$${" writes a literal "${". The fields that
// are expressions by nature — condition.expr, foreach.items,
// transform.expr — hold the bare expression (a "${ }" around it is
// tolerated).
//
// Compile compiles an expression (unknown names, and step result fields
// other than output and status, fail to compile); ParseTemplate and Resolve
// handle values. The engine evaluates with the same functions.
//
// # Validation
//
// Validate checks a plan against a Catalogue and returns Problems
// ({step, field, code, message}) precise enough for a repair prompt:
// operations exist, required parameters are present, literal values fit
// their schemas, credentials are never parameters, expressions compile and
// refer to declared inputs and earlier steps only, through fields the
// referenced operation's success response schema has (properties, items,
// allOf/anyOf/oneOf; free-form and truncated schemas accept any field).
// Summarize describes a plan for the confirmation screen.
package plan
