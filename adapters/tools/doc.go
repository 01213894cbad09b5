// Package tools turns catalogue operations into OpenAI function tools for
// the planner, and the model's tool calls back into plan steps.
//
// NewSet names every operation of a tenant's catalogue once: names are
// "<connection>__<operationId>" (≤ 64 characters of [a-zA-Z0-9_-], unique,
// the same for the same endpoints), and Lookup maps a name back to its
// (connection, operation). Tools builds the function tools of the
// operations a request offers (never more than MaxToolsPerRequest), Compact
// lists operations in one line each for a first selection round, and
// Decode turns tool calls into plan.Step values for plan.Validate.
//
// Arguments of an operation tool: step_id, then each path, query and
// header parameter under its own name ("<in>_<name>" when two locations
// share a name or the name is step_id or body), then body with the request
// body schema as it is (not flattened: body fields never collide with
// parameters, and form and JSON bodies look alike). Cookie parameters and
// parameters that carry credentials (plan.IsCredentialParameter) are not
// arguments: APIQ supplies credentials, never the model.
//
// Every tool fits a size cap (8 KiB by default): it is rendered at the
// first of several levels that fits, each trimming more — shorter
// descriptions, then none below the arguments, then less nesting (cut
// parts keep their type and their required fields), then the optional
// fields of the body. Argument types and required arguments and fields stay.
// anyOf/oneOf/allOf keep their alternatives, trimmed alike; alternatives
// that trimming makes identical are merged.
//
// Text from the document (summaries, descriptions) is untrusted: Untrusted
// strips control and invisible formatting characters and HTML tags and
// quotes it in « » (which it removes from the text), and UntrustedNotice
// tells the model what the quotes mean.
package tools
