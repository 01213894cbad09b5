package projections

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceSearchSQL is the search document as SQL alone would build it
// from the four class texts (the projector's first form): the reference
// searchVectors must match lexeme for lexeme.
const referenceSearchSQL = `
SELECT ((SELECT coalesce(string_agg(format('%s:1%s', quote_literal(l.lexeme), l.class), ' '), '')::tsvector ||
                coalesce(string_agg(quote_literal('^' || l.lexeme), ' ') FILTER (WHERE l.class = 'A'), '')::tsvector
         FROM (SELECT DISTINCT ON (lexeme) lexeme, class
               FROM (VALUES ('A', r.doc_a), ('B', r.doc_b), ('C', r.doc_c), ('D', r.doc_d)) AS d(class, text),
                    unnest(tsvector_to_array(to_tsvector('english', d.text))) AS lexeme
               ORDER BY lexeme, class) l)
    || array_to_tsvector(ARRAY(SELECT '@own:' || k FROM unnest(coalesce(r.owns_keys, '{}')) k) || ('@tenant:' || $2::text))
    || CASE WHEN r.searchable THEN array_to_tsvector('{@search}') ELSE ''::tsvector END)::text
FROM json_to_recordset($1::json) AS r(n integer, owns_keys text[], searchable boolean,
    doc_a text, doc_b text, doc_c text, doc_d text)
ORDER BY r.n`

// TestSearchVectorsMatchSQL checks that the search documents merged in Go
// are those PostgreSQL builds from the same texts, for every operation of
// the shared documents, and that the terms table counts what ts_stat counts.
func TestSearchVectorsMatchSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newCatalogueFixture(t)
	for _, spec := range []string{"petstore-3.0.yaml", "tmdb-3.0.json", "stripe-3.0.json", "spotify-3.0-broken.json"} {
		t.Run(spec, func(t *testing.T) {
			rows := endpointRows(specOperations(t, spec))
			type docs struct {
				N          int      `json:"n"`
				OwnsKeys   []string `json:"owns_keys"`
				Searchable bool     `json:"searchable"`
				DocA       string   `json:"doc_a"`
				DocB       string   `json:"doc_b"`
				DocC       string   `json:"doc_c"`
				DocD       string   `json:"doc_d"`
			}
			in := make([]docs, len(rows))
			for i, r := range rows {
				in[i] = docs{i, r.OwnsKeys, r.Searchable, r.DocA, r.DocB, r.DocC, r.DocD}
			}
			data, err := json.Marshal(in)
			require.NoError(t, err)
			result, err := f.pool.Query(ctx, referenceSearchSQL, string(data), "tenant-1")
			require.NoError(t, err)
			want, err := pgx.CollectRows(result, pgx.RowTo[string])
			require.NoError(t, err)

			vectors, err := searchVectors(ctx, f.pool, "tenant-1", rows)
			require.NoError(t, err)
			result, err = f.pool.Query(ctx, `SELECT v::text FROM unnest($1::tsvector[]) WITH ORDINALITY AS u(v, n) ORDER BY n`, vectors)
			require.NoError(t, err)
			got, err := pgx.CollectRows(result, pgx.RowTo[string])
			require.NoError(t, err)
			require.Len(t, got, len(rows))
			for i := range rows {
				assert.Equal(t, want[i], got[i], "%s %s", rows[i].Method, rows[i].Path)
			}
		})
	}

	t.Run("terms", func(t *testing.T) {
		f.register(t, "tenant-1", "stripe", "Stripe", specOperations(t, "stripe-3.0.json"))
		type term struct {
			Lexeme           string
			Endpoints, Named int32
		}
		read := func(sql string) []term {
			result, err := f.pool.Query(ctx, sql, "stripe")
			require.NoError(t, err)
			terms, err := pgx.CollectRows(result, pgx.RowToStructByPos[term])
			require.NoError(t, err)
			return terms
		}
		want := read(`
			WITH stat AS (SELECT word, ndoc FROM ts_stat(format('SELECT search FROM rm_catalogue.search_documents WHERE connection_id = %L', $1::text)))
			SELECT every.word, every.ndoc, coalesce(named.ndoc, 0)
			FROM stat every LEFT JOIN stat named ON named.word = '^' || every.word
			WHERE left(every.word, 1) NOT IN ('^', '@') ORDER BY 1`)
		require.NotEmpty(t, want)
		assert.Equal(t, want, read(`SELECT lexeme, endpoints, named FROM rm_catalogue.terms WHERE connection_id = $1 ORDER BY 1`))
	})
}

// The facet tokens carry no position: they count as no term.
func TestTermCountsSkipFacets(t *testing.T) {
	t.Parallel()
	at := func(w pgtype.TSVectorWeight) []pgtype.TSVectorPosition {
		return []pgtype.TSVectorPosition{{Position: 1, Weight: w}}
	}
	lexemes, endpoints, named := termCounts([]pgtype.TSVector{
		{Lexemes: []pgtype.TSVectorLexeme{{Word: "@tenant:t"}, {Word: "^charg"}, {Word: "charg", Positions: at(pgtype.TSVectorWeightA)}}},
		{Lexemes: []pgtype.TSVectorLexeme{{Word: "@search"}, {Word: "charg", Positions: at(pgtype.TSVectorWeightC)},
			{Word: "refund", Positions: at(pgtype.TSVectorWeightD)}}},
	})
	assert.Equal(t, []string{"charg", "refund"}, lexemes)
	assert.Equal(t, []int32{2, 1}, endpoints)
	assert.Equal(t, []int32{1, 0}, named)
}
