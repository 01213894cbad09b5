package projections

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAnalyzeQuery(t *testing.T) {
	t.Parallel()
	boosts := termBoosts{crudVerb: 0.5, synonym: 0.6}
	find := func(terms []queryTerm, word string) (queryTerm, bool) {
		for _, term := range terms {
			if term.Word == word {
				return term, true
			}
		}
		return queryTerm{}, false
	}

	terms := analyzeQuery("Please show me the films Tom Hanks starred in", boosts)
	_, ok := find(terms, "please")
	assert.False(t, ok, "filler words are dropped")
	show, _ := find(terms, "show")
	assert.Equal(t, queryTerm{Word: "show", Boost: 0.5, Original: true, Verb: true}, show, "generic verbs count half")
	films, _ := find(terms, "films")
	assert.Equal(t, queryTerm{Word: "films", Boost: 1, Original: true}, films)
	hanks, _ := find(terms, "hanks")
	assert.True(t, hanks.Capitalized, "a capital inside the sentence marks a name")
	movie, ok := find(terms, "movie")
	assert.True(t, ok, "films → movie")
	assert.Equal(t, 0.6, movie.Boost)
	assert.False(t, movie.Original)
	cast, ok := find(terms, "cast")
	assert.True(t, ok, "starred → star → cast (inflections are looked up too)")
	assert.False(t, cast.Verb)
	list, _ := find(terms, "list")
	assert.True(t, list.Verb, "what a verb expands to is a verb")
	assert.InDelta(t, 0.3, list.Boost, 1e-9)

	first := analyzeQuery("Refund charge ch_1", boosts)
	refund, _ := find(first, "refund")
	assert.False(t, refund.Capitalized, "the first word's capital says nothing")

	year := analyzeQuery("comedies from 1999", boosts)
	_, ok = find(year, "year")
	assert.True(t, ok, "a year in the request looks for years")
	_, ok = find(year, "genre")
	assert.True(t, ok)

	phrase := analyzeQuery("sign up a new user", boosts)
	_, ok = find(phrase, "register")
	assert.True(t, ok, "two-word phrases are looked up")

	twice := analyzeQuery("delete delete remove", boosts)
	assert.Len(t, twice, 2, "each word once: delete, remove")
	assert.Empty(t, analyzeQuery("", boosts))
	assert.Empty(t, analyzeQuery("please, thanks!", boosts))
}

func TestRelatedWordsInflections(t *testing.T) {
	t.Parallel()
	assert.Equal(t, thesaurus["film"], relatedWords("films"))
	assert.Equal(t, thesaurus["star"], relatedWords("starred"))
	assert.Equal(t, thesaurus["subscribe"], relatedWords("subscribed"))
	assert.Nil(t, relatedWords("zebra"))
	assert.True(t, isYear("2010"))
	assert.False(t, isYear("1850"))
	assert.False(t, isYear("20x0"))
}
