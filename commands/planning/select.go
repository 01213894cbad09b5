package planning

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/projections"
)

// minOffered is how many of the best-ranked operations are offered
// whatever their tools' size.
const minOffered = 5

// scope is what one request may plan with: its connections (the enabled
// ones it names, or all enabled) within the tenant's catalogue.
type scope struct {
	cat     catalogue
	allowed map[string]bool
	// operations counts the operations of the allowed connections.
	operations int
}

func newScope(cat catalogue, filter []string) scope {
	s := scope{cat: cat, allowed: map[string]bool{}}
	for _, c := range cat.connections {
		if len(filter) == 0 || slices.Contains(filter, c.ID) {
			s.allowed[c.ID] = true
			s.operations += c.Endpoints
		}
	}
	return s
}

// connections lists the allowed connections in id order.
func (s scope) connections() []projections.PlanningConnection {
	var out []projections.PlanningConnection
	for _, c := range s.cat.connections {
		if s.allowed[c.ID] {
			out = append(out, c)
		}
	}
	return out
}

// restricted reports whether the request names fewer connections than the
// tenant has enabled.
func (s scope) restricted() bool { return len(s.allowed) < len(s.cat.connections) }

// rank searches the catalogue for the request and returns the allowed
// operations the tool set holds, best first: up to limit hits, after the
// ones to keep (a revised plan's). With fill, when the allowed connections
// hold no more than tools.MaxSelected operations, the others follow the
// hits (offer trims them to the byte budget): a small catalogue is offered
// whole, so a request in other words than the documents' still finds its
// operations. Destructive operations are candidates only when the request
// asks to delete, remove, cancel... something (asksToDestroy): whatever a
// document or a model says, a plan destroys nothing the requester did not
// ask to destroy. The same operation under several connections (a test
// and a live account of one API) is a candidate once before its copies
// are: copies follow the distinct operations in rank order, so they do
// not crowd the others out of the limit.
func (p *Planner) rank(ctx context.Context, tenantID, query string, s scope, keep []plan.OperationRef, limit int, fill bool) ([]plan.OperationRef, error) {
	var out, copies []plan.OperationRef
	seen := map[plan.OperationRef]bool{}
	type operation struct{ method, path, id string }
	distinct := map[operation]bool{}
	destroy := asksToDestroy(query)
	add := func(ref plan.OperationRef, deferCopies bool) {
		if len(out) >= limit || seen[ref] || !s.allowed[ref.ConnectionID] {
			return
		}
		e, ok := s.cat.set.Endpoint(ref)
		if !ok {
			return // the catalogue changed since the set was built
		}
		if e.Operation.SideEffect == openapi.SideEffectDestructive && !destroy {
			return
		}
		key := operation{e.Operation.Method, e.Operation.Path, e.Operation.OperationID}
		if deferCopies && distinct[key] {
			copies = append(copies, ref)
			return
		}
		seen[ref], distinct[key] = true, true
		out = append(out, ref)
	}
	for _, ref := range keep {
		add(ref, false)
	}
	pages := 1
	if s.restricted() {
		pages = projections.MaxSearchResults / projections.MaxSearchLimit
	}
	for page := range pages {
		hits, err := projections.SearchEndpoints(ctx, p.cfg.DB, tenantID, query, projections.SearchOptions{
			Limit: projections.MaxSearchLimit, Offset: page * projections.MaxSearchLimit})
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			add(plan.OperationRef{ConnectionID: h.ConnectionID, OperationID: h.OperationID}, true)
		}
		if len(hits) < projections.MaxSearchLimit || len(out) >= limit {
			break
		}
	}
	for _, ref := range copies {
		add(ref, false)
	}
	if fill && s.operations <= tools.MaxSelected && len(out) > 0 {
		limit = tools.MaxSelected
		for _, ref := range s.cat.set.Refs() {
			add(ref, false)
		}
	}
	return out, nil
}

// destroyWords are requests' words that ask for destruction beyond the
// catalogue's own destructive vocabulary.
var destroyWords = []string{"clear", "clean", "drop", "discard", "undo", "unpublish"}

// asksToDestroy reports whether a request asks to destroy something: a
// word the catalogue classifies as destructive (delete, remove, cancel,
// revoke, purge, wipe...) or one of destroyWords.
func asksToDestroy(request string) bool {
	if openapi.ClassifySideEffect("POST", "", request, "") == openapi.SideEffectDestructive {
		return true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(request), func(r rune) bool { return !unicode.IsLetter(r) }) {
		for _, d := range destroyWords {
			if strings.HasPrefix(w, d) {
				return true
			}
		}
	}
	return false
}

// offer builds the tools of the candidates, best first, within the byte
// budget (the first minOffered always), followed by the control tools.
func (p *Planner) offer(set *tools.Set, candidates []plan.OperationRef) ([]openai.Tool, []plan.OperationRef, error) {
	built, err := set.Tools(candidates)
	if err != nil {
		return nil, nil, err
	}
	size, n := 0, 0
	for n < len(built) {
		size += toolSize(built[n])
		if n >= minOffered && size > p.cfg.ToolBytes {
			break
		}
		n++
	}
	offered := append(built[:n:n], tools.ControlTools()...)
	return offered, candidates[:n], nil
}

// toolSize is roughly what a tool adds to a request.
func toolSize(t openai.Tool) int {
	if t.Function == nil {
		return 0
	}
	n := len(t.Function.Name) + len(t.Function.Description)
	switch params := t.Function.Parameters.(type) {
	case json.RawMessage:
		return n + len(params)
	case []byte:
		return n + len(params)
	}
	raw, _ := json.Marshal(t.Function.Parameters)
	return n + len(raw)
}
