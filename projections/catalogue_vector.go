package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// searchClasses are the weights of a search document's four classes, best first.
var searchClasses = [4]pgtype.TSVectorWeight{
	pgtype.TSVectorWeightA, pgtype.TSVectorWeightB, pgtype.TSVectorWeightC, pgtype.TSVectorWeightD,
}

// searchVectors returns the search document of each row: every lexeme of
// its four classes once, at position 1 with the weight of the best class it
// occurs in (so that the words an operation repeats by construction — the
// path's "/customers/{customer}", the operation id spelling out the path —
// do not outweigh the others), and the facet tokens, without positions:
// "^<lexeme>" for the lexemes of class A, "@own:<key>" for the keys whose
// entities the endpoint returns, "@tenant:<id>", and "@search" for search
// operations. PostgreSQL analyses the texts (english configuration, as
// queries are), in one statement for all rows; the merging happens here.
func searchVectors(ctx context.Context, db QueryDB, tenantID string, rows []endpointRow) ([]pgtype.TSVector, error) {
	texts := make([]string, 0, 4*len(rows))
	for i := range rows {
		texts = append(texts, rows[i].DocA, rows[i].DocB, rows[i].DocC, rows[i].DocD)
	}
	result, err := db.Query(ctx, `
		SELECT tsvector_to_array(to_tsvector('english', t.text))
		FROM unnest($1::text[]) WITH ORDINALITY AS t(text, n) ORDER BY t.n`, texts)
	if err != nil {
		return nil, fmt.Errorf("analyse search documents: %w", err)
	}
	lexemes, err := pgx.CollectRows(result, pgx.RowTo[[]string])
	if err != nil {
		return nil, fmt.Errorf("analyse search documents: %w", err)
	}
	if len(lexemes) != len(texts) {
		return nil, fmt.Errorf("analyse search documents: %d texts, %d results", len(texts), len(lexemes))
	}
	vectors := make([]pgtype.TSVector, len(rows))
	for i := range rows {
		var classes [4][]string
		copy(classes[:], lexemes[4*i:4*i+4])
		vectors[i] = searchVector(classes, tenantID, &rows[i])
	}
	return vectors, nil
}

// searchVector merges one row's class lexemes and adds its facets.
func searchVector(classes [4][]string, tenantID string, r *endpointRow) pgtype.TSVector {
	best := map[string]int{}
	for class := len(classes) - 1; class >= 0; class-- {
		for _, lexeme := range classes[class] {
			best[lexeme] = class
		}
	}
	out := make([]pgtype.TSVectorLexeme, 0, len(best)+len(classes[0])+len(r.OwnsKeys)+2)
	for lexeme, class := range best {
		out = append(out, pgtype.TSVectorLexeme{
			Word: lexeme, Positions: []pgtype.TSVectorPosition{{Position: 1, Weight: searchClasses[class]}},
		})
		if class == 0 {
			out = append(out, pgtype.TSVectorLexeme{Word: "^" + lexeme})
		}
	}
	for _, key := range r.OwnsKeys {
		out = append(out, pgtype.TSVectorLexeme{Word: "@own:" + key})
	}
	out = append(out, pgtype.TSVectorLexeme{Word: "@tenant:" + tenantID})
	if r.Searchable {
		out = append(out, pgtype.TSVectorLexeme{Word: "@search"})
	}
	slices.SortFunc(out, func(a, b pgtype.TSVectorLexeme) int { return strings.Compare(a.Word, b.Word) })
	out = slices.CompactFunc(out, func(a, b pgtype.TSVectorLexeme) bool { return a.Word == b.Word })
	return pgtype.TSVector{Lexemes: out, Valid: true}
}

// termCounts counts, over a connection's search documents, the documents
// holding each lexeme (endpoints) and those naming it (named: the lexeme is
// in class A), as the terms table keeps them; facet tokens are not terms.
func termCounts(vectors []pgtype.TSVector) (lexemes []string, endpoints, named []int32) {
	index := map[string]int{}
	for _, v := range vectors {
		for _, l := range v.Lexemes {
			if len(l.Positions) == 0 {
				continue // a facet
			}
			i, ok := index[l.Word]
			if !ok {
				i = len(lexemes)
				index[l.Word] = i
				lexemes = append(lexemes, l.Word)
				endpoints = append(endpoints, 0)
				named = append(named, 0)
			}
			endpoints[i]++
			if l.Positions[0].Weight == pgtype.TSVectorWeightA {
				named[i]++
			}
		}
	}
	return lexemes, endpoints, named
}
