package tools

import (
	"strings"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// maxCompactSummary caps the summary of a compact entry, in runes.
const maxCompactSummary = 120

// CompactEntry is one operation in the compact list of a selection round.
type CompactEntry struct {
	Name       string             `json:"name"`
	Method     string             `json:"method"`
	Path       string             `json:"path"`
	SideEffect openapi.SideEffect `json:"side_effect"`
	// Summary is the document's summary (or its description's first
	// sentence), quoted as untrusted text.
	Summary string `json:"summary,omitempty"`
}

// Compact lists operations in the compact form, in the order given;
// operations the set does not hold are skipped.
func (s *Set) Compact(refs []plan.OperationRef) []CompactEntry {
	out := make([]CompactEntry, 0, len(refs))
	for _, ref := range refs {
		i, ok := s.byRef[ref]
		if !ok {
			continue
		}
		op := s.endpoints[i].Operation
		summary := op.Summary
		if strings.TrimSpace(summary) == "" {
			summary = firstSentence(op.Description)
		}
		out = append(out, CompactEntry{
			Name:       s.names[i],
			Method:     op.Method,
			Path:       truncateRunes(cleanText(op.Path), 200),
			SideEffect: op.SideEffect,
			Summary:    Untrusted(firstLine(summary), maxCompactSummary),
		})
	}
	return out
}

// FormatCompact renders entries one a line: "name GET /path [read] «summary»".
func FormatCompact(entries []CompactEntry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Name)
		b.WriteByte(' ')
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(" [")
		b.WriteString(string(e.SideEffect))
		b.WriteByte(']')
		if e.Summary != "" {
			b.WriteByte(' ')
			b.WriteString(e.Summary)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
