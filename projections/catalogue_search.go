package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// Search result sizes.
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 100
	// MaxSearchResults bounds how deep search results can be paged.
	MaxSearchResults = 200
)

// SearchOptions selects a slice of the ranked results: Limit hits (0: the
// default) after skipping Offset.
type SearchOptions struct {
	Limit  int
	Offset int
}

// EndpointHit is one operation found by SearchEndpoints.
type EndpointHit struct {
	ConnectionID   string
	ConnectionName string
	OperationID    string
	Method         string
	Path           string
	Summary        string
	SideEffect     string
	Deprecated     bool
	// Score orders the hits: higher is more relevant. Scores compare only
	// within one search.
	Score float64
	// Needs lists the id-like inputs the operation cannot be called
	// without ("movie_id").
	Needs []string
	// ProvidesFor is set on a hit pulled up for another one: it produces a
	// value that operation needs, or it searches the connection for the
	// names the request mentions (Key "search").
	ProvidesFor *ProvidedValue

	// owns and produces are the keys the operation returns as its
	// entities' ids and anywhere (read by the linkage queries only).
	owns       []string
	produces   []string
	searchable bool
}

// ProvidedValue says which hit a producer was pulled up for.
type ProvidedValue struct {
	OperationID string
	Key         string
}

// searchTuning holds the ranking's constants (see docs/search.md).
type searchTuning struct {
	// classWeights weigh matches in the D, C, B and A classes.
	classWeights [4]float64
	boosts       termBoosts
	// linkConsumers is how many of the best text hits get the producers of
	// their required inputs pulled up (one per input).
	linkConsumers int
	// linkFactor scales a consumer's score into its producers'.
	linkFactor float64
	// searchConnections is how many of the best hits' connections get their
	// best search operation pulled up when the request names something.
	searchConnections int
	searchFactor      float64
	// commonShare is the share of the tenant's endpoints a stem must appear
	// in to be common: "customer" in a payments API matches nearly every
	// endpoint, and ranking all of them to find the few that also match
	// "refund" costs a search more than its time budget.
	commonShare float64
}

func defaultSearchTuning() searchTuning {
	return searchTuning{
		classWeights:      [4]float64{0.1, 0.2, 0.4, 1.0},
		boosts:            termBoosts{crudVerb: 0.5, synonym: 0.6},
		linkConsumers:     12,
		linkFactor:        0.99,
		searchConnections: 2,
		searchFactor:      0.9,
		commonShare:       0.1,
	}
}

// SearchDB is what SearchEndpoints reads through: a pool, a connection or
// a transaction (the search runs in a transaction, or a savepoint, of its own).
type SearchDB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// SearchEndpoints ranks the operations of the tenant's enabled connections
// by relevance to a natural-language request, and pulls up the operations
// that produce the ids the best hits need (see docs/search.md). It is what
// the planner retrieves its tools with.
func SearchEndpoints(ctx context.Context, db SearchDB, tenantID, query string, opts SearchOptions) ([]EndpointHit, error) {
	hits, err := searchEndpoints(ctx, db, tenantID, query, opts, defaultSearchTuning())
	if err != nil {
		return nil, fmt.Errorf("search endpoints: %w", err)
	}
	return hits, nil
}

// searchSettings are set for the search's own transaction. The planner
// prices the @@ operator like an equality test, so for a tenant with
// thousands of endpoints it would rather read every search document than
// use the GIN index (13 ms instead of 4 for 5,000 endpoints).
const searchSettings = "SET LOCAL enable_seqscan = off"

// beginSearch starts the search's transaction with its settings: in one
// round trip from a pool or a connection, in two from a transaction.
func beginSearch(ctx context.Context, db SearchDB) (pgx.Tx, error) {
	if pool, ok := db.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	}); ok {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, BeginQuery: "BEGIN READ ONLY; " + searchSettings})
		if err != nil {
			return nil, fmt.Errorf("begin search: %w", err)
		}
		return tx, nil
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin search: %w", err)
	}
	if _, err := tx.Exec(ctx, searchSettings); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("search settings: %w", err)
	}
	return tx, nil
}

func searchEndpoints(ctx context.Context, db SearchDB, tenantID, query string, opts SearchOptions, tune searchTuning) ([]EndpointHit, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxSearchLimit)
	offset := max(opts.Offset, 0)
	if offset >= MaxSearchResults {
		return nil, nil
	}
	words := analyzeQuery(query, tune.boosts)
	if len(words) == 0 {
		return nil, nil
	}
	tx, err := beginSearch(ctx, db)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only: nothing to keep
	terms, err := weighTerms(ctx, tx, tenantID, words, tune.commonShare)
	if err != nil || len(terms.lexemes) == 0 {
		return nil, err
	}
	s := newScorer(tx, tenantID, terms, tune.classWeights[:])
	// Hits beyond the requested page cannot enter it: linking only adds
	// hits above them.
	hits, err := s.textHits(ctx, max(offset+limit, tune.linkConsumers))
	if err != nil {
		return nil, err
	}
	hits, err = s.pullUp(ctx, hits, tune)
	if err != nil {
		return nil, err
	}
	if offset >= len(hits) {
		return nil, nil
	}
	return hits[offset:min(len(hits), offset+limit)], nil
}

// weightedTerms are a request's distinct stems with their weights, which
// of them select candidates, and whether the request names things the
// catalogue does not know.
type weightedTerms struct {
	lexemes []string
	weights []float64
	// selective marks the stems that are not common; verbs those that come
	// only from generic verbs (see candidates).
	selective []bool
	verbs     []bool
	names     bool
}

// commonFloor is the fewest endpoints a common stem appears in: ranking a
// few hundred candidates fits a search's time budget anyway, so in a
// catalogue of ordinary size no stem is restricted (see candidates).
const commonFloor = 300

// termStatsSQL stems the query words and returns, for each stem, how many
// of the tenant's enabled endpoints mention it at all, the inverse
// document frequency of its naming an endpoint (classes A and B: a word a
// payments API mentions everywhere but names few operations with, such as
// "customer", still tells those operations apart) and the number of
// endpoints. Stop words have no stem and drop out.
const termStatsSQL = `
WITH words AS (
    SELECT t.ord, t.word, (ts_lexize('english_stem', t.word))[1] AS lexeme
    FROM unnest($2::text[]) WITH ORDINALITY AS t(word, ord)
), total AS (
    SELECT greatest(coalesce(sum(endpoint_count), 0), 1)::float8 AS n
    FROM rm_catalogue.connections WHERE tenant_id = $1 AND enabled AND NOT deleted
)
SELECT w.word, w.lexeme, df.every, ln(1 + (total.n - df.named + 0.5) / (df.named + 0.5)), total.n
FROM words w CROSS JOIN total
CROSS JOIN LATERAL (
    SELECT coalesce(sum(t.endpoints), 0)::float8 AS every, coalesce(sum(t.named), 0)::float8 AS named
    FROM rm_catalogue.terms t JOIN rm_catalogue.connections c USING (connection_id)
    WHERE t.tenant_id = $1 AND t.lexeme = w.lexeme AND c.enabled AND NOT c.deleted
) df
WHERE w.lexeme IS NOT NULL
ORDER BY w.ord`

// weighTerms weighs each distinct stem by its word's boost times its
// inverse document frequency. A request names something when one of its
// own alphabetic words is unknown to the catalogue or written with a
// capital inside the sentence ("who starred in Inception?").
func weighTerms(ctx context.Context, db QueryDB, tenantID string, terms []queryTerm, common float64) (weightedTerms, error) {
	var out weightedTerms
	if len(terms) == 0 {
		return out, nil
	}
	byWord := make(map[string]queryTerm, len(terms))
	words := make([]string, len(terms))
	for i, t := range terms {
		words[i] = t.Word
		byWord[t.Word] = t
	}
	rows, err := db.Query(ctx, termStatsSQL, tenantID, words)
	if err != nil {
		return out, fmt.Errorf("weigh search terms: %w", err)
	}
	defer rows.Close()
	index := map[string]int{}
	for rows.Next() {
		var word, lexeme string
		var df, idf, total float64
		if err := rows.Scan(&word, &lexeme, &df, &idf, &total); err != nil {
			return out, fmt.Errorf("weigh search terms: %w", err)
		}
		t := byWord[word]
		if t.Lookup || t.Original && isAlphabetic(word) && (df == 0 || t.Capitalized) {
			out.names = true
		}
		weight := t.Boost * idf
		if i, ok := index[lexeme]; ok {
			out.weights[i] = max(out.weights[i], weight)
			out.verbs[i] = out.verbs[i] && t.Verb
			continue
		}
		index[lexeme] = len(out.lexemes)
		out.lexemes = append(out.lexemes, lexeme)
		out.weights = append(out.weights, weight)
		out.selective = append(out.selective, df <= max(common*total, commonFloor))
		out.verbs = append(out.verbs, t.Verb)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("weigh search terms: %w", err)
	}
	return out, nil
}

func isAlphabetic(word string) bool {
	for _, r := range word {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return word != ""
}

// scorer runs the scored queries of one search. Its SQL scores a search
// document s as the sum, over the stems, of the stem's weight times
// ts_rank of s for that stem alone: every lexeme is stored once, in its
// best class, so that is the class's weight (A counts ten times D). The
// common stems, whose weights are low and alike, are ranked together at
// their mean weight: ts_rank of an OR query is the mean of its operands'
// ranks, so k times it is their sum, in one call instead of k.
type scorer struct {
	db       QueryDB
	tenantID string
	terms    weightedTerms
	// args are the score's parameters: tenant, class weights, then a
	// weight and a query per part of the score; score refers to them.
	args  []any
	score string
}

func newScorer(db QueryDB, tenantID string, terms weightedTerms, classWeights []float64) *scorer {
	s := &scorer{db: db, tenantID: tenantID, terms: terms, args: []any{tenantID, classWeights}}
	var parts []string
	add := func(weight float64, query string) {
		s.args = append(s.args, weight, query)
		parts = append(parts, fmt.Sprintf("$%d::float8 * ts_rank($2::float4[], s.search, $%d::tsquery)", len(s.args)-1, len(s.args)))
	}
	var common []string
	var commonWeight float64
	for i, lexeme := range terms.lexemes {
		if terms.selective[i] {
			add(terms.weights[i], tsqueryLiteral(lexeme))
			continue
		}
		common = append(common, tsqueryLiteral(lexeme))
		commonWeight += terms.weights[i]
	}
	if len(common) > 0 {
		add(commonWeight, strings.Join(common, " | ")) // mean weight × k
	}
	s.score = strings.Join(parts, " + ")
	return s
}

// tsqueryLiteral quotes a lexeme as a tsquery operand.
func tsqueryLiteral(lexeme string) string {
	return "'" + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(lexeme) + "'"
}

// candidates selects the documents worth scoring: those of the tenant
// holding a selective stem anywhere, or a common one among the words that
// name what an endpoint is about (the "^" facets: classes A and B). A
// document matching common stems only in its descriptions or fields could
// not score high enough to matter. Generic verbs ("show", "get", "list")
// only add to scores, unless the request has no other words. It returns
// the predicate, whose parameter is numbered n, and its argument.
func (s *scorer) candidates(n int) (string, any) {
	var operands, verbs []string
	for i, lexeme := range s.terms.lexemes {
		operand := tsqueryLiteral(lexeme)
		if !s.terms.selective[i] {
			operand = tsqueryLiteral("^" + lexeme)
		}
		if s.terms.verbs[i] {
			verbs = append(verbs, operand)
		} else {
			operands = append(operands, operand)
		}
	}
	if len(operands) == 0 {
		operands = verbs
	}
	return fmt.Sprintf("s.search @@ $%d::tsquery", n), s.withinTenant(strings.Join(operands, " | "))
}

// withinTenant restricts a tsquery to the tenant's documents (their
// "@tenant" facet), so the GIN index, not the heap, keeps tenants apart.
func (s *scorer) withinTenant(query string) string {
	return "(" + query + ") & " + tsqueryLiteral("@tenant:"+s.tenantID)
}

// hitSelect ranks the search documents matching where (its parameters
// follow the score's) and returns the best limit hits with their
// connections' names; the keys they produce only when produces is set.
func (s *scorer) hitSelect(where string, limit int, produces bool) string {
	producesColumn := "NULL::text[]"
	if produces {
		producesColumn = "s.produces_keys"
	}
	return `
SELECT s.connection_id, c.name, s.operation_id, s.method, s.path, s.summary, s.side_effect, s.deprecated,
    s.needs_keys, s.owns_keys, s.searchable, s.produces_keys, s.score
FROM (
    SELECT s.connection_id, s.operation_id, s.method, s.path, s.summary, s.side_effect, s.deprecated,
        s.needs_keys, s.owns_keys, s.searchable, ` + producesColumn + ` AS produces_keys,
        (` + s.score + `)::float8 AS score
    FROM rm_catalogue.search_documents s
    WHERE s.tenant_id = $1 AND s.enabled AND ` + where + `
    ORDER BY score DESC, s.connection_id COLLATE "C", s.path COLLATE "C", s.method COLLATE "C"
    LIMIT ` + strconv.Itoa(limit) + `
) s
JOIN rm_catalogue.connections c ON c.connection_id = s.connection_id
ORDER BY s.score DESC, s.connection_id COLLATE "C", s.path COLLATE "C", s.method COLLATE "C"`
}

// textHits ranks the tenant's enabled endpoints that match a candidate stem.
func (s *scorer) textHits(ctx context.Context, limit int) ([]EndpointHit, error) {
	where, arg := s.candidates(len(s.args) + 1)
	return s.query(ctx, s.hitSelect(where, limit, false), arg)
}

// ownerHits scores the enabled endpoints of some connections that return
// one of some keys as the id of the entities they return (their "@own"
// facets), or that search (when searchable is set: the "@search" facet),
// whether or not they match the query.
func (s *scorer) ownerHits(ctx context.Context, connections, keys []string, searchable bool) ([]EndpointHit, error) {
	var facets []string
	for _, key := range keys {
		facets = append(facets, tsqueryLiteral("@own:"+key))
	}
	if searchable {
		facets = append(facets, tsqueryLiteral("@search"))
	}
	if len(facets) == 0 {
		return nil, nil
	}
	n := len(s.args)
	where := fmt.Sprintf("s.search @@ $%d::tsquery AND s.connection_id = ANY($%d::text[])", n+1, n+2)
	return s.query(ctx, s.hitSelect(where, MaxSearchResults*4, false), s.withinTenant(strings.Join(facets, " | ")), connections)
}

// producerHits scores the enabled endpoints of some connections that
// return one of some keys anywhere in their response.
func (s *scorer) producerHits(ctx context.Context, connections, keys []string) ([]EndpointHit, error) {
	n := len(s.args)
	where := fmt.Sprintf("s.connection_id = ANY($%d::text[]) AND s.produces_keys && $%d::text[]", n+1, n+2)
	return s.query(ctx, s.hitSelect(where, MaxSearchResults*4, true), connections, keys)
}

func (s *scorer) query(ctx context.Context, sql string, args ...any) ([]EndpointHit, error) {
	rows, err := s.db.Query(ctx, sql, append(slices.Clip(s.args), args...)...)
	if err != nil {
		return nil, fmt.Errorf("rank endpoints: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EndpointHit, error) {
		var h EndpointHit
		err := r.Scan(&h.ConnectionID, &h.ConnectionName, &h.OperationID, &h.Method, &h.Path, &h.Summary,
			&h.SideEffect, &h.Deprecated, &h.Needs, &h.owns, &h.searchable, &h.produces, &h.Score)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("rank endpoints: %w", err)
	}
	return hits, nil
}

// pullUp applies the two linkage rules (docs/search.md):
//
//   - for each of the best text hits that needs an id (a required input
//     such as movie_id), the best operation of the same connection that
//     produces it is given a score just below that hit's, unless it ranks
//     higher already. Operations returning the entity itself (its id, as
//     "/results/*/id") are preferred to those returning a reference to it;
//     among them reads first, then (when the request names something)
//     search operations, then the ones the query matches best, then those
//     needing fewer inputs, then shorter paths. A producer that needs the
//     very key it produces (GET /movies/{movie_id}) cannot supply it;
//   - when the request names something the catalogue does not know (a
//     title, a person, an email), the best-matching search operation of
//     each of the best hits' connections is pulled up likewise.
func (s *scorer) pullUp(ctx context.Context, hits []EndpointHit, tune searchTuning) ([]EndpointHit, error) {
	consumers := slices.Clone(hits[:min(len(hits), tune.linkConsumers)])
	var connections, keys, searchIn []string
	for _, h := range consumers {
		for _, key := range h.Needs {
			connections = appendNew(connections, h.ConnectionID)
			keys = appendNew(keys, key)
		}
	}
	if s.terms.names {
		for _, h := range hits {
			if len(searchIn) == tune.searchConnections {
				break
			}
			searchIn = appendNew(searchIn, h.ConnectionID)
			connections = appendNew(connections, h.ConnectionID)
		}
	}
	if len(connections) == 0 {
		return hits, nil
	}
	owners, err := s.ownerHits(ctx, connections, keys, len(searchIn) > 0)
	if err != nil {
		return nil, err
	}
	r := newRaiser(hits)
	type need struct {
		consumer EndpointHit
		key      string
	}
	var unowned []need
	var unownedConnections, unownedKeys []string
	for _, c := range consumers {
		for _, key := range c.Needs {
			if p, ok := bestProducer(owners, c, key, true, s.terms.names); ok {
				r.raise(p, c.Score*tune.linkFactor, ProvidedValue{OperationID: c.OperationID, Key: key})
				continue
			}
			unowned = append(unowned, need{c, key})
			unownedConnections = appendNew(unownedConnections, c.ConnectionID)
			unownedKeys = appendNew(unownedKeys, key)
		}
	}
	if len(unowned) > 0 {
		producers, err := s.producerHits(ctx, unownedConnections, unownedKeys)
		if err != nil {
			return nil, err
		}
		for _, n := range unowned {
			if p, ok := bestProducer(producers, n.consumer, n.key, false, s.terms.names); ok {
				r.raise(p, n.consumer.Score*tune.linkFactor, ProvidedValue{OperationID: n.consumer.OperationID, Key: n.key})
			}
		}
	}
	for _, conn := range searchIn {
		best, searcher := -1, -1
		for i, h := range r.hits {
			if h.ConnectionID == conn && (best < 0 || h.Score > r.hits[best].Score) {
				best = i
			}
		}
		for i, h := range owners {
			if h.ConnectionID == conn && h.searchable && (searcher < 0 || h.Score > owners[searcher].Score) {
				searcher = i
			}
		}
		if best >= 0 && searcher >= 0 {
			top := r.hits[best]
			r.raise(owners[searcher], top.Score*tune.searchFactor, ProvidedValue{OperationID: top.OperationID, Key: "search"})
		}
	}
	slices.SortStableFunc(r.hits, func(a, b EndpointHit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.ConnectionID, b.ConnectionID), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return r.hits[:min(len(r.hits), MaxSearchResults)], nil
}

// raiser raises hits' scores, adding the hits not ranked yet.
type raiser struct {
	hits  []EndpointHit
	index map[string]int
}

func newRaiser(hits []EndpointHit) *raiser {
	r := &raiser{hits: hits, index: make(map[string]int, len(hits))}
	for i, h := range hits {
		r.index[h.ConnectionID+" "+h.OperationID] = i
	}
	return r
}

func (r *raiser) raise(h EndpointHit, score float64, why ProvidedValue) {
	id := h.ConnectionID + " " + h.OperationID
	if i, ok := r.index[id]; ok {
		if r.hits[i].Score < score {
			r.hits[i].Score, r.hits[i].ProvidesFor = score, &why
		}
		return
	}
	h.Score, h.ProvidesFor = score, &why
	r.index[id] = len(r.hits)
	r.hits = append(r.hits, h)
}

// bestProducer picks, among candidates, the best operation of consumer's
// connection that returns key (as the entities' own id when owned) and
// does not need it.
func bestProducer(candidates []EndpointHit, consumer EndpointHit, key string, owned, names bool) (EndpointHit, bool) {
	var best EndpointHit
	found := false
	for _, p := range candidates {
		returns := p.produces
		if owned {
			returns = p.owns
		}
		if p.ConnectionID != consumer.ConnectionID || p.OperationID == consumer.OperationID ||
			!slices.Contains(returns, key) || slices.Contains(p.Needs, key) {
			continue
		}
		if !found || compareProducers(p, best, names) < 0 {
			best, found = p, true
		}
	}
	return best, found
}

// compareProducers orders the producers of one key, best first.
func compareProducers(a, b EndpointHit, names bool) int {
	prefer := func(x, y bool) int {
		switch {
		case x == y:
			return 0
		case x:
			return -1
		}
		return 1
	}
	return cmp.Or(
		prefer(a.SideEffect == "read", b.SideEffect == "read"),
		prefer(names && a.searchable, names && b.searchable),
		cmp.Compare(b.Score, a.Score),
		cmp.Compare(len(a.Needs), len(b.Needs)),
		cmp.Compare(len(a.Path), len(b.Path)),
		cmp.Compare(a.OperationID, b.OperationID))
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
