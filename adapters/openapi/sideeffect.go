package openapi

import (
	"strings"
	"unicode"
)

// SideEffect says what calling an operation may do to the remote system.
type SideEffect string

// The side-effect classes, from harmless to irreversible.
const (
	// SideEffectRead: the operation only reads.
	SideEffectRead SideEffect = "read"
	// SideEffectWrite: the operation creates or changes something.
	SideEffectWrite SideEffect = "write"
	// SideEffectDestructive: the operation deletes, cancels or revokes something.
	SideEffectDestructive SideEffect = "destructive"
)

// destructiveStems start the words that mark a writing operation as
// destructive ("delete", "deletes", "deleted", "deletion" all start with "delet").
var destructiveStems = []string{
	"delet", "remov", "cancel", "revok", "revoc", "destroy", "destruct", "purg",
	"erase", "wipe", "terminat", "void", "expire", "detach", "deactivat", "disabl",
	"unsubscrib", "unlink", "truncat",
}

// ClassifySideEffect applies APIQ's side-effect rule:
//
//   - GET, HEAD, OPTIONS and TRACE are read: HTTP defines them as safe, whatever
//     their text says ("List deleted items" stays a read);
//   - DELETE is destructive;
//   - POST, PUT, PATCH (and any other method) are write, unless the
//     operationId (in the catalogue, the synthesised one when the document has
//     none, which spells out the path), the summary or the first sentence of
//     the description has a word starting with one of destructiveStems (delete, remove, cancel,
//     revoke, destroy, purge, erase, wipe, terminate, void, expire, detach,
//     deactivate, disable, unsubscribe, unlink, truncate) — then destructive.
//
// Words are split on case changes and non-letters, so "cancelOrder",
// "cancel_order" and "Cancel an order" all match.
func ClassifySideEffect(method, operationID, summary, description string) SideEffect {
	switch strings.ToUpper(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return SideEffectRead
	case "DELETE":
		return SideEffectDestructive
	}
	for _, text := range []string{operationID, summary, firstSentence(description)} {
		for _, word := range words(text) {
			for _, stem := range destructiveStems {
				if strings.HasPrefix(word, stem) {
					return SideEffectDestructive
				}
			}
		}
	}
	return SideEffectWrite
}

// firstSentence returns text up to its first full stop or line break.
func firstSentence(text string) string {
	if i := strings.IndexAny(text, ".\n"); i >= 0 {
		return text[:i]
	}
	return text
}

// words splits text into lower-case words at case changes and non-letters.
func words(text string) []string {
	return strings.Split(strings.Trim(snakeCase(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return ' '
	}, text)), "_"), "_")
}
