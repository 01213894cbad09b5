package tools_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/domain/plan"
)

var nameRule = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func op(id string) openapi.Operation {
	return openapi.Operation{Method: "GET", Path: "/" + id, OperationID: id, SideEffect: openapi.SideEffectRead}
}

func TestNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("getTheVeryLongResourceName", 4)
	tests := []struct {
		name string
		eps  []tools.Endpoint
		// want maps "connection/operation" to its expected name; a value
		// ending in "_*" only fixes the start and asks for a hash suffix.
		want map[string]string
	}{
		{"readable as they stand", []tools.Endpoint{
			{ConnectionID: "c-1", ConnectionName: "TMDB", Operation: op("GET_search-movie")},
			{ConnectionID: "c-1", ConnectionName: "TMDB", Operation: op("movie_details")},
		}, map[string]string{"c-1/GET_search-movie": "tmdb__GET_search-movie", "c-1/movie_details": "tmdb__movie_details"}},
		{"name slugged and cut to 16", []tools.Endpoint{
			{ConnectionID: "c-1", ConnectionName: "  The Movie Database (v3)!", Operation: op("search")},
		}, map[string]string{"c-1/search": "the_movie_databa__search"}},
		{"no name: the id", []tools.Endpoint{
			{ConnectionID: "0b9c6a1e-53cc-5d1c-9f0e-7a6f3a5b2c11", Operation: op("search")},
		}, map[string]string{"0b9c6a1e-53cc-5d1c-9f0e-7a6f3a5b2c11/search": "0b9c6a1e_53cc_5d__search"}},
		{"invalid characters get a hash", []tools.Endpoint{
			{ConnectionID: "c", ConnectionName: "pets", Operation: op("get /pets/{id}")},
		}, map[string]string{"c/get /pets/{id}": "pets__get_pets_id_*"}},
		{"too long gets cut and a hash", []tools.Endpoint{
			{ConnectionID: "c", ConnectionName: "pets", Operation: op(long)},
		}, map[string]string{"c/" + long: "pets__getTheVeryLongResourceNamegetTheVeryLongResourceNam_*"}},
		{"two connections with one name", []tools.Endpoint{
			{ConnectionID: "a", ConnectionName: "Stripe", Operation: op("GetCustomers")},
			{ConnectionID: "b", ConnectionName: "stripe", Operation: op("GetCustomers")},
		}, map[string]string{"a/GetCustomers": "stripe_*", "b/GetCustomers": "stripe_*"}},
		{"sanitised form equal to another id", []tools.Endpoint{
			{ConnectionID: "c", ConnectionName: "x", Operation: op("a_b")},
			{ConnectionID: "c", ConnectionName: "x", Operation: op("a.b")},
		}, map[string]string{"c/a_b": "x__a_b", "c/a.b": "x__a_b_*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set := newSet(t, tt.eps)
			var names []string
			for _, e := range tt.eps {
				name, ok := set.Name(e.Ref())
				require.True(t, ok)
				assert.Regexp(t, nameRule, name)
				want := tt.want[e.ConnectionID+"/"+e.Operation.OperationID]
				if prefix, hashed := strings.CutSuffix(want, "_*"); hashed {
					assert.True(t, strings.HasPrefix(name, prefix), "%s starts with %s", name, prefix)
					assert.Regexp(t, `_[0-9a-f]{4,12}(__.*)?$`, name)
				} else {
					assert.Equal(t, want, name)
				}
				back, ok := set.Lookup(name)
				require.True(t, ok)
				assert.Equal(t, e.Ref(), back)
				names = append(names, name)
			}
			assert.Len(t, slices.Compact(slices.Sorted(slices.Values(names))), len(names), "unique")
		})
	}
}

func TestNamesAreDeterministicAndUniqueAtScale(t *testing.T) {
	t.Parallel()
	var eps []tools.Endpoint
	for c := range 5 {
		for i := range 1000 {
			id := fmt.Sprintf("operation.%d", i) // every id needs sanitising
			if i%3 == 0 {
				id = fmt.Sprintf("operation_%d", i)
			}
			if i%7 == 0 {
				id = strings.Repeat("x", 70) + fmt.Sprint(i)
			}
			eps = append(eps, tools.Endpoint{ConnectionID: fmt.Sprintf("conn-%d", c), ConnectionName: "Shared Name", Operation: op(id)})
		}
	}
	set := newSet(t, eps)
	reversed := slices.Clone(eps)
	slices.Reverse(reversed)
	again := newSet(t, reversed)
	seen := map[string]bool{}
	for _, e := range eps {
		name, ok := set.Name(e.Ref())
		require.True(t, ok)
		require.Regexp(t, nameRule, name)
		require.False(t, seen[name], "duplicate %s", name)
		seen[name] = true
		other, _ := again.Name(e.Ref())
		assert.Equal(t, name, other, "the order of the endpoints does not change names")
	}
	_, ok := set.Lookup("shared_name__nothing")
	assert.False(t, ok)
}

func TestNewSetRefuses(t *testing.T) {
	t.Parallel()
	_, err := tools.NewSet([]tools.Endpoint{{ConnectionID: "c", Operation: op("a")}, {ConnectionID: "c", Operation: op("a")}}, tools.Options{})
	assert.ErrorContains(t, err, "given twice")
	_, err = tools.NewSet([]tools.Endpoint{{Operation: op("a")}}, tools.Options{})
	assert.ErrorContains(t, err, "no connection id")
	_, err = tools.NewSet(nil, tools.Options{MaxToolBytes: 100, MaxDescription: -1, MaxPropertyDescription: -2})
	require.Error(t, err)
	for _, part := range []string{"MaxToolBytes", "MaxDescription", "MaxPropertyDescription"} {
		assert.ErrorContains(t, err, part)
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	assert.True(t, tools.ValidName("a-b_C9"))
	assert.False(t, tools.ValidName(""))
	assert.False(t, tools.ValidName("a.b"))
	assert.False(t, tools.ValidName(strings.Repeat("a", 65)))
	assert.Equal(t, plan.OperationRef{ConnectionID: "c", OperationID: "x"}, tools.Endpoint{ConnectionID: "c", Operation: op("x")}.Ref())
}
