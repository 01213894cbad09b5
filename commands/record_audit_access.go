package commands

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/security"
)

// Bounds of a recorded audit access: the filters are the caller's input.
const (
	maxAuditAccessFilters     = 20
	maxAuditAccessFilterBytes = 200
)

// auditQueries are the reads of the audit trail that RecordAuditAccess knows.
var auditQueries = []string{"events", "export", "stream", "timeline", "verify", "heads"}

// RecordAuditAccess records that the actor (Meta.Actor) read the audit
// trail: which query, with which filters. Auditors are audited.
type RecordAuditAccess struct {
	Query   string
	Filters map[string]string
}

// RecordAuditAccessResult reports where the record landed.
type RecordAuditAccessResult struct {
	Position eventstore.Position
}

// RecordAuditAccessHandler handles RecordAuditAccess.
type RecordAuditAccessHandler = Handler[RecordAuditAccess, RecordAuditAccessResult]

type recordAuditAccessHandler struct{ d Deps }

// NewRecordAuditAccessHandler needs Store.
func NewRecordAuditAccessHandler(d Deps) (RecordAuditAccessHandler, error) {
	if err := d.require("RecordAuditAccess", true, false, false, false, false); err != nil {
		return nil, err
	}
	d = d.withDefaults()
	return decorate[RecordAuditAccess, RecordAuditAccessResult]("RecordAuditAccess", recordAuditAccessHandler{d}, d), nil
}

// Handle appends to the tenant's security stream without a version check.
func (h recordAuditAccessHandler) Handle(ctx context.Context, meta Meta, cmd RecordAuditAccess) (RecordAuditAccessResult, error) {
	if !slices.Contains(auditQueries, cmd.Query) {
		return RecordAuditAccessResult{}, domain.Invalid("query", "invalid_audit_query",
			"query must be one of "+strings.Join(auditQueries, ", "))
	}
	if len(cmd.Filters) > maxAuditAccessFilters {
		return RecordAuditAccessResult{}, domain.Invalid("filters", "too_many_filters", "too many filters")
	}
	filters := make(map[string]string, len(cmd.Filters))
	for name, value := range cmd.Filters {
		if value != "" {
			filters[truncateUTF8(name, maxAuditAccessFilterBytes)] = truncateUTF8(value, maxAuditAccessFilterBytes)
		}
	}
	ev := security.AuditAccessed{Query: cmd.Query}
	if len(filters) > 0 {
		ev.Filters = filters
	}
	pos, err := appendAny(ctx, h.d, meta, security.Stream(meta.TenantID), ev)
	if err != nil {
		return RecordAuditAccessResult{}, err
	}
	return RecordAuditAccessResult{Position: pos}, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a character the cut split (at most 3 bytes of it remain).
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
