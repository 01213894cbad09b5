// Package openapi imports OpenAPI documents into APIQ: it parses them
// (JSON or YAML; Swagger 2.0, OpenAPI 3.0 and 3.1) with kin-openapi,
// validates them, and builds the endpoint catalogue the planner and the
// endpoint search work from.
//
// Import is the entry point. It reads only the bytes it is given: external
// $refs are refused (external_ref), never fetched. Documents over
// Options.MaxBytes fail with too_large (errors.Is(err, ErrTooLarge)), YAML
// aliases that would blow the document up fail with alias_bomb before
// anything is decoded, and circular $refs import (schemas render them as
// truncation markers). Every failure is an *ImportError with a code, a
// message, the JSON pointer of the offending value and its line and column
// in the submitted text.
//
// Validation runs kin-openapi's rules. Only what makes a document unusable
// fails the import — a missing version, info, title or (3.0) paths, a $ref
// that resolves to nothing, a value of the wrong type — everything else
// (unknown fields, schema keywords of the wrong version, responses without
// descriptions...) becomes a located warning. So do the constructs the
// catalogue cannot carry: webhooks and callbacks (requests the API sends),
// $dynamicRef, a JSON Schema dialect other than 2020-12.
//
// The catalogue has one Operation per method and path, with a unique
// operationId (SynthesizeOperationID fills the gaps), parameters, request
// body and success response schemas as self-contained JSON Schema, the
// effective security requirement, a side-effect class (ClassifySideEffect)
// and the identifier-like values the operation produces and needs, from
// which Links derives "operation X needs movie_id, which operation Y
// returns". Diff compares two catalogues of one connection.
package openapi
