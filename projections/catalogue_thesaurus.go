package projections

import (
	"strings"
	"unicode"
)

// queryTerm is one word a search looks for, with how much it counts.
type queryTerm struct {
	Word  string
	Boost float64
	// Original is set for the request's own words (not the thesaurus'),
	// Capitalized for those written with a capital inside the request.
	Original    bool
	Capitalized bool
	// Verb is set for generic CRUD verbs and the words the thesaurus adds
	// for them: they tell a resource's operations apart, but every
	// resource has them, so they do not select candidates.
	Verb bool
	// Lookup is set on the word standing for a value the request gives
	// that identifies something only a search can find ("email" for an
	// email address).
	Lookup bool
}

// maxQueryTerms bounds the words one search looks for.
const maxQueryTerms = 48

// termBoosts say how much query words count: the request's own words
// fully, generic CRUD verbs ("get", "add", "remove": every resource has
// them) and the thesaurus' related words less.
type termBoosts struct {
	crudVerb, synonym float64
}

// analyzeQuery turns a natural-language request into search terms: its
// words (identifiers split, conversational filler dropped) and, for each,
// the related words of the thesaurus. PostgreSQL stems them and drops the
// English stop words when the search runs.
func analyzeQuery(query string, boosts termBoosts) []queryTerm {
	var terms []queryTerm
	index := map[string]int{}
	add := func(t queryTerm) {
		if t.Word == "" || fillerWords[t.Word] {
			return
		}
		if i, ok := index[t.Word]; ok {
			terms[i].Boost = max(terms[i].Boost, t.Boost)
			terms[i].Original = terms[i].Original || t.Original
			terms[i].Capitalized = terms[i].Capitalized || t.Capitalized
			terms[i].Verb = terms[i].Verb && t.Verb
			return
		}
		if len(terms) < maxQueryTerms {
			index[t.Word] = len(terms)
			terms = append(terms, t)
		}
	}
	var words []string
	for i, token := range strings.Fields(query) {
		token = strings.TrimFunc(token, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		switch valueKind(token) {
		case valueEmail:
			add(queryTerm{Word: "email", Boost: boosts.synonym, Lookup: true})
			continue
		case valueURL:
			add(queryTerm{Word: "url", Boost: boosts.synonym})
			continue
		case valueYear:
			add(queryTerm{Word: "year", Boost: boosts.synonym})
			continue
		case valueID:
			continue
		}
		capitalized := i > 0 && token != "" && unicode.IsUpper([]rune(token)[0])
		for _, word := range identifierWords(token) {
			boost := 1.0
			if crudVerbs[word] {
				boost = boosts.crudVerb
			}
			add(queryTerm{Word: word, Boost: boost, Original: true, Capitalized: capitalized, Verb: crudVerbs[word]})
			words = append(words, word)
		}
	}
	for i, word := range words {
		if i+1 < len(words) {
			for _, related := range thesaurus[word+" "+words[i+1]] {
				for _, w := range identifierWords(related) {
					add(queryTerm{Word: w, Boost: boosts.synonym})
				}
			}
		}
		if fillerWords[word] {
			continue
		}
		boost := boosts.synonym
		if crudVerbs[word] {
			boost = boosts.synonym * boosts.crudVerb
		}
		for _, related := range relatedWords(word) {
			for _, w := range identifierWords(related) {
				add(queryTerm{Word: w, Boost: boost, Verb: crudVerbs[word] || crudVerbs[w]})
			}
		}
	}
	return terms
}

// Kinds of values a request may give, which are not words to search for.
const (
	valueNone = iota
	valueEmail
	valueURL
	valueYear
	valueID
)

// valueKind tells the values of a request from its words: an email
// address, a URL, a year (the documents speak of years), or an id — a
// number, or a token mixing letters, digits and underscores like
// "cus_123" or "pi_9". Values carry no vocabulary; an email address says
// that something must be looked up by it.
func valueKind(token string) int {
	at := strings.IndexByte(token, '@')
	switch {
	case token == "":
		return valueNone
	case at > 0 && strings.Contains(token[at+1:], "."):
		return valueEmail
	case strings.Contains(token, "://") || strings.HasPrefix(strings.ToLower(token), "www."):
		return valueURL
	case isYear(token):
		return valueYear
	}
	digits, letters, other := 0, 0, 0
	for _, r := range token {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLetter(r):
			letters++
		default:
			other++
		}
	}
	if digits > 0 && (letters == 0 || strings.ContainsRune(token, '_') || digits+letters >= 8) {
		return valueID
	}
	return valueNone
}

// isYear reports whether word is a year of the last or this century
// ("films from 1999": the documents speak of a year, a date).
func isYear(word string) bool {
	if len(word) != 4 || !(strings.HasPrefix(word, "19") || strings.HasPrefix(word, "20")) {
		return false
	}
	for _, r := range word {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// crudVerbs are the generic verbs of reading and changing things.
var crudVerbs = map[string]bool{
	"get": true, "fetch": true, "show": true, "see": true, "view": true, "display": true, "look": true,
	"find": true, "list": true, "retrieve": true, "read": true, "check": true, "add": true, "new": true,
	"make": true, "create": true, "set": true, "change": true, "edit": true, "modify": true, "update": true,
	"remove": true, "delete": true, "drop": true, "erase": true, "destroy": true,
}

// relatedWords looks word up in the thesaurus, also under the simple
// English inflections it may carry (films → film, starred → star).
func relatedWords(word string) []string {
	if related, ok := thesaurus[word]; ok {
		return related
	}
	for _, suffix := range []string{"s", "es", "ed", "d", "ing", "er"} {
		base, ok := strings.CutSuffix(word, suffix)
		if !ok || len(base) < 3 {
			continue
		}
		if related, ok := thesaurus[base]; ok {
			return related
		}
		// a doubled final consonant: starred → star, shopping → shop
		if n := len(base); n > 3 && base[n-1] == base[n-2] {
			if related, ok := thesaurus[base[:n-1]]; ok {
				return related
			}
		}
	}
	return nil
}

// fillerWords are words of requests that say nothing about which
// operation is meant (PostgreSQL drops the English stop words besides).
var fillerWords = map[string]bool{
	"please": true, "want": true, "wanna": true, "need": true, "would": true, "could": true,
	"can": true, "let": true, "lets": true, "help": true, "tell": true, "give": true, "know": true,
	"i": true, "me": true, "my": true, "mine": true, "we": true, "us": true, "our": true, "you": true,
	"hey": true, "hi": true, "thanks": true, "quick": true, "quickly": true, "also": true,
	"somebody": true, "someone": true, "something": true, "thing": true, "things": true,
	"way": true,
}

// thesaurus maps words (and two-word phrases) people use to the words API
// documents use for the same thing: verbs onto CRUD vocabulary, everyday
// nouns onto the resource names of common API domains (payments, media,
// music, commerce).
var thesaurus = map[string][]string{
	// phrases
	"sign up":     {"create", "register", "user"},
	"sign in":     {"login"},
	"log in":      {"login"},
	"sign out":    {"logout"},
	"log out":     {"logout"},
	"top up":      {"topup"},
	"money back":  {"refund"},
	"pay out":     {"payout"},
	"credit card": {"card", "payment_method"},
	"coming soon": {"upcoming"},
	"right now":   {"now", "current"},
	"this week":   {"week"},
	// questions
	"when":  {"date", "time"},
	"where": {"location", "address"},
	"much":  {"amount", "price", "balance"},
	// reading
	"get":      {"retrieve", "list"},
	"fetch":    {"get", "retrieve", "list"},
	"show":     {"get", "list"},
	"see":      {"get", "list"},
	"view":     {"get", "list"},
	"display":  {"get", "list"},
	"look":     {"search", "get", "find"},
	"find":     {"search", "list", "get"},
	"lookup":   {"search", "get", "find"},
	"search":   {"find", "query"},
	"check":    {"get", "retrieve", "status"},
	"read":     {"get", "retrieve"},
	"which":    {"list"},
	"every":    {"list"},
	"many":     {"list"},
	"all":      {"list"},
	"details":  {"retrieve", "get"},
	"info":     {"details", "retrieve", "get"},
	"history":  {"list", "recent"},
	"recent":   {"recently", "latest", "list"},
	"latest":   {"recent", "last", "newest"},
	"newest":   {"latest", "recent"},
	"oldest":   {"first", "created"},
	"last":     {"latest", "recent"},
	"current":  {"currently", "now"},
	"today":    {"today", "day", "now"},
	"tonight":  {"today", "now"},
	"playing":  {"currently", "playback", "play"},
	"listened": {"recently", "played", "history"},
	// writing
	"add":       {"create", "new"},
	"new":       {"create", "add"},
	"make":      {"create"},
	"register":  {"create", "add"},
	"open":      {"create"},
	"start":     {"create", "begin", "play"},
	"set":       {"update", "create"},
	"change":    {"update", "modify", "edit"},
	"edit":      {"update", "modify"},
	"modify":    {"update"},
	"rename":    {"update", "name"},
	"adjust":    {"update", "change"},
	"upload":    {"file", "image", "create"},
	"attach":    {"add"},
	"issue":     {"create"},
	"apply":     {"update", "add"},
	"archive":   {"update", "active"},
	"save":      {"save", "library", "add"},
	"like":      {"save", "library"},
	"favorite":  {"save", "library"},
	"favourite": {"save", "library"},
	"bookmark":  {"save", "library"},
	// removing
	"remove":      {"delete"},
	"delete":      {"remove"},
	"drop":        {"delete", "remove"},
	"erase":       {"delete", "remove"},
	"destroy":     {"delete"},
	"unsubscribe": {"cancel", "subscription"},
	"stop":        {"cancel", "pause"},
	"undo":        {"reverse", "cancel"},
	"cancel":      {"delete", "void"},
	// payments
	"pay":         {"payment", "charge"},
	"payment":     {"charge", "payment_intent"},
	"charge":      {"payment"},
	"bill":        {"invoice", "charge"},
	"billing":     {"invoice", "subscription"},
	"refund":      {"refund"},
	"reimburse":   {"refund"},
	"money":       {"amount", "balance", "charge"},
	"send":        {"transfer"},
	"dollar":      {"amount", "currency"},
	"euro":        {"amount", "currency"},
	"cent":        {"amount"},
	"customer":    {"customer"},
	"client":      {"customer"},
	"buyer":       {"customer"},
	"shopper":     {"customer"},
	"subscriber":  {"subscription", "customer"},
	"subscribe":   {"subscription", "create"},
	"membership":  {"subscription"},
	"renewal":     {"subscription"},
	"card":        {"card", "payment_method", "source"},
	"coupon":      {"coupon", "discount", "promotion_code"},
	"discount":    {"coupon", "promotion_code"},
	"promo":       {"promotion", "coupon", "code"},
	"voucher":     {"coupon", "promotion_code"},
	"price":       {"price", "amount", "plan"},
	"cost":        {"price", "amount"},
	"revenue":     {"balance", "transaction"},
	"earnings":    {"balance", "transaction"},
	"withdraw":    {"payout"},
	"cashout":     {"payout"},
	"deposit":     {"topup", "payout"},
	"fee":         {"fee", "application_fee"},
	"chargeback":  {"dispute"},
	"fraud":       {"dispute", "review", "radar", "early_fraud_warning"},
	"receipt":     {"charge", "receipt_email"},
	"plan":        {"plan", "price", "subscription"},
	"quote":       {"quote"},
	"tax":         {"tax_rate", "tax_id"},
	"vat":         {"tax", "tax_id"},
	"gst":         {"tax", "tax_id"},
	"bank":        {"bank_account", "external_account"},
	"webhook":     {"webhook_endpoint"},
	"event":       {"event"},
	"transaction": {"balance_transaction"},
	// media
	"film":      {"movie"},
	"movie":     {"film"},
	"cinema":    {"movie", "now_playing"},
	"theater":   {"movie", "now_playing"},
	"theatre":   {"movie", "now_playing"},
	"series":    {"tv", "show"},
	"tv":        {"tv", "show"},
	"actor":     {"cast", "person", "credit"},
	"actress":   {"cast", "person", "credit"},
	"star":      {"cast", "credit", "person"},
	"cast":      {"credit", "cast"},
	"act":       {"cast", "credit"},
	"role":      {"cast", "character", "credit"},
	"appeared":  {"credit", "cast"},
	"director":  {"crew", "credit", "person"},
	"directed":  {"crew", "credit"},
	"crew":      {"credit", "crew"},
	"celebrity": {"person", "people"},
	"people":    {"person"},
	"trending":  {"trending", "popular"},
	"popular":   {"popular", "trending"},
	"hot":       {"trending", "popular"},
	"best":      {"top", "rated", "popular"},
	"rating":    {"rated", "vote"},
	"upcoming":  {"upcoming", "release"},
	"soon":      {"upcoming"},
	"released":  {"release", "date"},
	"similar":   {"similar", "recommendation"},
	"recommend": {"recommendation", "similar"},
	"suggest":   {"recommendation", "similar"},
	"review":    {"review"},
	"picture":   {"image"},
	"photo":     {"image"},
	"poster":    {"image"},
	"studio":    {"company"},
	"channel":   {"network"},
	"airing":    {"air", "on_the_air", "airing_today"},
	"genre":     {"genre"},
	"critic":    {"review"},
	"broadcast": {"network", "air"},
	// genres are looked up as genre ids
	"comedy":        {"genre"},
	"comedies":      {"genre"},
	"horror":        {"genre"},
	"thriller":      {"genre"},
	"documentary":   {"genre"},
	"documentaries": {"genre"},
	"drama":         {"genre"},
	"romance":       {"genre"},
	"romantic":      {"genre"},
	"western":       {"genre"},
	"animated":      {"genre", "animation"},
	"fantasy":       {"genre"},
	"scifi":         {"genre"},
	// music
	"song":     {"track"},
	"tune":     {"track"},
	"music":    {"track", "album", "artist"},
	"singer":   {"artist"},
	"band":     {"artist"},
	"musician": {"artist"},
	"record":   {"album"},
	"podcast":  {"show", "episode"},
	"skip":     {"next", "previous", "playback"},
	"resume":   {"play", "playback"},
	"pause":    {"pause", "playback"},
	"play":     {"playback", "start"},
	"volume":   {"volume", "playback"},
	"louder":   {"volume"},
	"queue":    {"queue"},
	"device":   {"device", "player"},
	"speaker":  {"device"},
	"mix":      {"playlist"},
	"follow":   {"follow", "following"},
	"unfollow": {"follow", "following", "remove"},
	// commerce and accounts
	"pet":       {"pet"},
	"dog":       {"pet"},
	"cat":       {"pet"},
	"animal":    {"pet"},
	"puppy":     {"pet"},
	"buy":       {"order", "purchase"},
	"purchase":  {"order"},
	"stock":     {"inventory"},
	"available": {"status", "inventory"},
	"sold":      {"status"},
	"signin":    {"login"},
	"login":     {"login", "log"},
	"logout":    {"logout", "log"},
	"profile":   {"user", "me"},
	"account":   {"account", "user"},
	"password":  {"login"},
	"username":  {"user", "username"},
	"photos":    {"image", "photo_urls"},
	"label":     {"tag"},
	"tagged":    {"tag"},
}
