package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// maxOperationIDLength keeps synthesised ids usable as LLM tool names.
const maxOperationIDLength = 64

// assignOperationIDs synthesises the missing operationIds and renames
// duplicates, so that every operation has an id unique within the document.
// Document ids are kept as written; the first operation (in catalogue order)
// keeps a duplicated id, later ones get a numeric suffix.
func (b *catalogueBuilder) assignOperationIDs(ops []Operation) {
	// Every id the document declares is reserved, so that neither a renamed
	// duplicate nor a synthesised id can take one.
	reserved := map[string]bool{}
	for _, op := range ops {
		if op.OperationID != "" {
			reserved[op.OperationID] = true
		}
	}
	claimed := map[string]bool{}
	free := func(id string) bool { return !reserved[id] && !claimed[id] }
	for i := range ops {
		op := &ops[i]
		if op.OperationID == "" {
			continue
		}
		if !claimed[op.OperationID] {
			claimed[op.OperationID] = true
			continue
		}
		original := op.OperationID
		op.OperationID = uniqueID(original, free)
		claimed[op.OperationID] = true
		b.warnings = append(b.warnings, Problem{
			Code:    CodeDuplicateOperationID,
			Message: fmt.Sprintf("operationId %q is used by more than one operation; %s is catalogued as %q", original, op.Key(), op.OperationID),
			Pointer: pointerJoin("/paths", op.Path, strings.ToLower(op.Method), "operationId"),
		})
	}
	for i := range ops {
		op := &ops[i]
		if op.OperationID != "" {
			continue
		}
		op.OperationID = uniqueID(SynthesizeOperationID(op.Method, op.Path), free)
		op.OperationIDSynthesized = true
		claimed[op.OperationID] = true
	}
}

// uniqueID returns id when it is free, otherwise id with the smallest free
// numeric suffix ("_2", "_3"...).
func uniqueID(id string, free func(string) bool) string {
	if free(id) {
		return id
	}
	for n := 2; ; n++ {
		if candidate := id + "_" + strconv.Itoa(n); free(candidate) {
			return candidate
		}
	}
}

// SynthesizeOperationID derives a readable, stable id from method and path:
// the lower-case method, then each path segment in snake case, a parameter
// segment as "by_<name>" — GET /users/{id}/posts becomes get_users_by_id_posts.
// Ids longer than 64 characters are shortened and suffixed with a hash of the
// full id, so they stay distinct.
func SynthesizeOperationID(method, path string) string {
	parts := []string{strings.ToLower(method)}
	for _, segment := range strings.Split(path, "/") {
		if segment == "" {
			continue
		}
		if strings.HasPrefix(segment, "{") && strings.HasSuffix(segment, "}") {
			if name := snakeCase(strings.Trim(segment, "{}")); name != "" {
				parts = append(parts, "by_"+name)
			}
			continue
		}
		if name := snakeCase(segment); name != "" {
			parts = append(parts, name)
		}
	}
	if len(parts) == 1 {
		parts = append(parts, "root")
	}
	id := strings.Join(parts, "_")
	if len(id) > maxOperationIDLength {
		sum := sha256.Sum256([]byte(id))
		id = strings.TrimRight(id[:maxOperationIDLength-9], "_") + "_" + hex.EncodeToString(sum[:4])
	}
	return id
}

// snakeCase lower-cases an identifier, splitting camelCase words and turning
// every run of other characters into one underscore: "movieID" → "movie_id",
// "v1.2-beta" → "v1_2_beta".
func snakeCase(s string) string {
	var b strings.Builder
	runes := []rune(s)
	pendingSep := false
	for i, r := range runes {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			pendingSep = b.Len() > 0
			continue
		}
		if unicode.IsUpper(r) && i > 0 && b.Len() > 0 {
			prev := runes[i-1]
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				pendingSep = true
			}
		}
		if pendingSep {
			b.WriteByte('_')
			pendingSep = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
