package planning

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

func TestParseValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want statedValues
	}{
		{`search "Blade Runner" year=1982`, statedValues{named: map[string]string{"year": "1982"}, quoted: []string{"Blade Runner"}}},
		{`customer: cus_123, limit = 5 and "a b"`, statedValues{named: map[string]string{"customer": "cus_123", "limit": "5"}, quoted: []string{"a b"}}},
		{`page_size="20" then 'the title' 42 and 3.5`, statedValues{named: map[string]string{"pagesize": "20"},
			quoted: []string{"the title"}, numbers: []string{"42", "3.5"}}},
		{"the movie's credits for v2 and cus_9", statedValues{named: map[string]string{}}},
		{`“Amélie” X-Trace-Id=abc`, statedValues{named: map[string]string{"xtraceid": "abc"}, quoted: []string{"Amélie"}}},
	} {
		assert.Equal(t, tc.want, parseValues(tc.text), tc.text)
	}
}

func TestFillCall(t *testing.T) {
	t.Parallel()
	str, num := json.RawMessage(`{"type":"string"}`), json.RawMessage(`{"type":"integer"}`)
	op := openapi.Operation{OperationID: "listCharges", SideEffect: openapi.SideEffectRead, Parameters: []openapi.Parameter{
		{Name: "limit", In: "query", Schema: num},
		{Name: "q", In: "query", Schema: str},
		{Name: "account", In: "path", Required: true, Schema: str},
		{Name: "page", In: "query", Required: true, Schema: num},
		{Name: "api_key", In: "query", Required: true, Schema: str},
		{Name: "session", In: "cookie", Required: true, Schema: str},
	}, RequestBody: &openapi.RequestBody{Schema: json.RawMessage(`{"type":"object","properties":{"note":{"type":"string"},"count":{"type":"integer"}}}`)}}
	got := fillCall("c1", op, parseValues(`charges of "acct_1" page 2 limit=10 "refund" note=hi count=3 api_key=leaked`))
	assert.Equal(t, &plan.Call{ConnectionID: "c1", OperationID: "listCharges", SideEffect: openapi.SideEffectRead,
		Path:  map[string]any{"account": "acct_1"},
		Query: map[string]any{"limit": int64(10), "page": int64(2), "q": "refund"},
		Body:  map[string]any{"note": "hi", "count": int64(3)},
	}, got, "credentials and cookies are never filled")
}

func TestDraftStepID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"GET_search-movie": "GET_search_movie", "listCharges": "listCharges", "2fa/enable": "fa_enable", "in": "step1", "---": "step1",
	} {
		assert.Equal(t, want, draftStepID(in), in)
	}
}

func TestAsksToDestroy(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]bool{
		"Delete all my notes": true, "cancel the subscription": true, "clear the cart": true, "please wipe it": true,
		"show the credits of Inception": false, "save a note with the cast": false, "refund the last charge": false,
	} {
		assert.Equal(t, want, asksToDestroy(text), text)
	}
}
