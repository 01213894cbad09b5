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

	values := analyzeQuery("refund charge ch_123 of ana@example.com, order 55, see https://x.io/a (3d secure)", boosts)
	var words []string
	for _, term := range values {
		words = append(words, term.Word)
	}
	for _, value := range []string{"ch", "123", "ana", "example", "com", "55", "x", "io", "https"} {
		assert.NotContains(t, words, value, "values are not words to search for")
	}
	email, ok := find(values, "email")
	assert.True(t, ok && email.Lookup, "an email address is looked up by its field")
	_, ok = find(values, "url")
	assert.True(t, ok)
	_, ok = find(values, "3d")
	assert.True(t, ok, "a short word with a digit is vocabulary")
	for token, kind := range map[string]int{"cus_123": valueID, "42": valueID, "5a1b2c3d4e": valueID, "a@b.io": valueEmail,
		"www.example.com": valueURL, "1999": valueYear, "payment_intent": valueNone, "v1": valueNone, "": valueNone} {
		assert.Equal(t, kind, valueKind(token), token)
	}

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
