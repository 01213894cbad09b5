package projections

import (
	"encoding/json"
	"html"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/apiq/apiq/adapters/openapi"
)

// searchDocument is the text an operation is found by, in PostgreSQL's four
// weight classes: A names the operation (operation id, summary, path), B
// says what it is about (tags, the entity it returns, the first sentence of
// its description, the ids it takes), C is the rest of what the document
// says (description, parameters) and D lists the fields it takes and
// returns. The projector turns each class into a weighted tsvector
// (english configuration: stemmed, without stop words).
type searchDocument struct {
	A, B, C, D string
}

// Limits on what an operation contributes to its search document, so a
// long description or a huge schema cannot drown the words that name it.
const (
	maxDocumentDescription = 600
	maxDocumentFields      = 120
	maxFieldDepth          = 2
)

// buildSearchDocument writes the search document of op.
func buildSearchDocument(op openapi.Operation) searchDocument {
	var a, b, c, d wordList
	a.add(identifierWords(op.OperationID)...)
	a.addText(op.Summary)
	for _, seg := range strings.Split(op.Path, "/") {
		if seg != "" && !strings.HasPrefix(seg, "{") {
			a.add(identifierWords(seg)...)
		}
	}

	b.add(methodVerbs(op)...)
	for _, tag := range op.Tags {
		b.add(identifierWords(tag)...)
	}
	description := plainText(truncateWords(op.Description, 4*maxDocumentDescription))
	first, rest := splitFirstSentence(description)
	b.addText(first)
	for _, p := range op.Parameters {
		if p.In == "path" {
			b.add(identifierWords(p.Name)...)
		}
	}

	c.addText(truncateWords(rest, maxDocumentDescription))
	for _, p := range op.Parameters {
		if p.In == "header" || p.In == "cookie" {
			continue
		}
		c.add(identifierWords(p.Name)...)
		pf, _ := splitFirstSentence(plainText(truncateWords(p.Description, 400)))
		c.addText(truncateWords(pf, 200))
	}
	fields := &fieldCollector{seen: map[string]bool{}}
	if op.RequestBody != nil {
		rf, _ := splitFirstSentence(plainText(truncateWords(op.RequestBody.Description, 400)))
		c.addText(rf)
		if body := parseSchema(op.RequestBody.Schema); body != nil {
			fields.collect(body, 1)
		}
	}
	for _, r := range op.Responses {
		if len(r.Status) != 3 || r.Status[0] != '2' || len(r.Schema) == 0 {
			continue
		}
		if s := parseSchema(r.Schema); s != nil {
			b.add(identifierWords(s.Title)...)
			sf, _ := splitFirstSentence(plainText(truncateWords(s.Description, 400)))
			c.addText(truncateWords(sf, 200))
			fields.collect(s, maxFieldDepth)
		}
	}
	for _, name := range fields.names {
		d.add(identifierWords(name)...)
	}
	return searchDocument{A: a.String(), B: b.String(), C: c.String(), D: d.String()}
}

// methodVerbs names what the operation does by REST convention, for
// documents whose operation ids and summaries do not say ("Get Details"):
// a GET of a collection lists, a GET of an item retrieves, a POST to a
// collection creates, a POST, PUT or PATCH of an item updates, a DELETE deletes.
func methodVerbs(op openapi.Operation) []string {
	item := strings.HasSuffix(op.Path, "}")
	switch strings.ToUpper(op.Method) {
	case "GET":
		if item {
			return []string{"get", "retrieve"}
		}
		return []string{"list"}
	case "POST":
		if item {
			return []string{"update"}
		}
		return []string{"create"}
	case "PUT", "PATCH":
		return []string{"update"}
	case "DELETE":
		return []string{"delete"}
	}
	return nil
}

// wordList accumulates the words of one weight class.
type wordList struct{ b strings.Builder }

func (w *wordList) add(words ...string) {
	for _, word := range words {
		if word == "" {
			continue
		}
		if w.b.Len() > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(word)
	}
}

// addText adds prose, splitting the identifiers it contains
// ("payment_intent", "PaymentIntent") into their words.
func (w *wordList) addText(text string) {
	for _, token := range strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) }) {
		w.add(identifierWords(token)...)
	}
}

func (w *wordList) String() string { return w.b.String() }

// identifierWords splits an identifier or a word into lower-case words at
// case changes, digits-to-letters boundaries and every non-alphanumeric
// character: "GetChargesChargeRefunds" → get charges charge refunds,
// "GET_movie-movie_id-credits" → get movie movie id credits.
func identifierWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	runes := []rune(s)
	for i, r := range runes {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if i > 0 && len(cur) > 0 {
			prev := runes[i-1]
			switch {
			case unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)):
				flush()
			case unicode.IsUpper(r) && unicode.IsUpper(prev) && i+1 < len(runes) && unicode.IsLower(runes[i+1]):
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

var (
	htmlTag       = regexp.MustCompile(`<[^>]*>`)
	markdownLink  = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	bareURL       = regexp.MustCompile(`https?://\S+`)
	sentenceBreak = regexp.MustCompile(`[.!?](\s|$)|\n\s*\n`)
)

// plainText strips HTML tags, entities, markdown links and URLs from prose.
func plainText(s string) string {
	if s == "" {
		return ""
	}
	if !strings.ContainsAny(s, "<&[") && !strings.Contains(s, "://") {
		return strings.Join(strings.Fields(s), " ")
	}
	s = htmlTag.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	s = markdownLink.ReplaceAllString(s, "$1")
	s = bareURL.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(s), " ")
}

// splitFirstSentence returns text's first sentence and the rest.
func splitFirstSentence(text string) (string, string) {
	loc := sentenceBreak.FindStringIndex(text)
	if loc == nil {
		return text, ""
	}
	return text[:loc[0]], strings.TrimSpace(text[loc[1]:])
}

// truncateWords cuts text to at most n bytes at a word boundary.
func truncateWords(text string, n int) string {
	if len(text) <= n {
		return text
	}
	cut := strings.LastIndexByte(text[:n], ' ')
	if cut <= 0 {
		cut = n
	}
	return text[:cut]
}

// schemaNode is the part of a catalogue schema the search document reads.
type schemaNode struct {
	Title       string                 `json:"title"`
	Description string                 `json:"description"`
	Properties  map[string]*schemaNode `json:"properties"`
	Items       *schemaNode            `json:"items"`
	AllOf       []*schemaNode          `json:"allOf"`
	AnyOf       []*schemaNode          `json:"anyOf"`
	OneOf       []*schemaNode          `json:"oneOf"`
}

// parseSchema decodes a catalogue schema once; nil when there is none.
func parseSchema(raw json.RawMessage) *schemaNode {
	if len(raw) == 0 {
		return nil
	}
	var s schemaNode
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

// fieldCollector gathers the property names of schemas, shallow ones first.
type fieldCollector struct {
	names []string
	seen  map[string]bool
}

// collect adds the property names of s down to depth levels of objects
// (arrays and schema combinations do not count as levels).
func (f *fieldCollector) collect(s *schemaNode, depth int) {
	level := []*schemaNode{s}
	for ; depth > 0 && len(level) > 0 && len(f.names) < maxDocumentFields; depth-- {
		var next []*schemaNode
		for _, node := range level {
			for _, obj := range objects(node, 0) {
				names := make([]string, 0, len(obj.Properties))
				for name := range obj.Properties {
					names = append(names, name)
				}
				slices.Sort(names)
				for _, name := range names {
					if !f.seen[name] && len(f.names) < maxDocumentFields {
						f.seen[name] = true
						f.names = append(f.names, name)
					}
					if child := obj.Properties[name]; child != nil {
						next = append(next, child)
					}
				}
			}
		}
		level = next
	}
}

// objects returns the object schemas s stands for: itself, its items, the
// members of its combinations.
func objects(s *schemaNode, hops int) []*schemaNode {
	if s == nil || hops > 4 {
		return nil
	}
	var out []*schemaNode
	if len(s.Properties) > 0 {
		out = append(out, s)
	}
	out = append(out, objects(s.Items, hops+1)...)
	for _, group := range [][]*schemaNode{s.AllOf, s.AnyOf, s.OneOf} {
		for _, member := range group {
			out = append(out, objects(member, hops+1)...)
		}
	}
	return out
}
