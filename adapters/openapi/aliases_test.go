package openapi

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// billionLaughs nests levels of aliases, each expanding to 9 of the previous.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString(header30 + "paths: {}\ncomponents:\n  schemas:\n    Bomb:\n")
	b.WriteString(`      x-l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= levels; i++ {
		prev := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "      x-l%d: &l%d [%s]\n", i, i, strings.Repeat(prev+",", 8)+prev)
	}
	return b.String()
}

// TestImportRefusesBillionLaughs runs alone (not in parallel) so that the
// allocation it measures is its own.
func TestImportRefusesBillionLaughs(t *testing.T) {
	doc := []byte(billionLaughs(9)) // 9^10 ≈ 3.5 billion nodes when expanded
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Import(context.Background(), doc, Options{})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, CodeAliasBomb, ie.Code)
	assert.Contains(t, ie.Message, "aliases would expand")
	assert.Positive(t, ie.Line, "the offending alias is located")
	assert.Less(t, elapsed, time.Second, "refused fast")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "refused with bounded memory")
}

func TestImportAliases(t *testing.T) {
	t.Parallel()
	// One big anchored subtree aliased a thousand times: 9,000 nodes written,
	// millions when expanded.
	var wide strings.Builder
	wide.WriteString(header30 + "paths: {}\ncomponents:\n  schemas:\n    Wide:\n      x-big: &big\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&wide, "        - {a: %d, b: %d}\n", i, i)
	}
	wide.WriteString("      x-copies: [" + strings.Repeat("*big,", 999) + "*big]\n")

	reused := header30 + `paths:
  /a:
    get:
      responses:
        '404': &notFound
          description: not found
          content:
            application/json:
              schema: {type: object, properties: {message: {type: string}}}
        '200': {description: ok}
  /b:
    get:
      responses:
        '404': *notFound
        '200': {description: ok}
`
	flowBomb := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
 "x-a": &a ["x","x","x","x","x","x","x","x","x","x"],
 "x-b": &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "x-c": &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b],
 "x-d": &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "x-e": &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d],
 "x-f": &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e], "x-g": [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]}`

	tests := []struct {
		name string
		doc  string
		code Code // "" for a successful import
	}{
		{name: "big subtree aliased a thousand times", doc: wide.String(), code: CodeAliasBomb},
		{name: "aliases in JSON-like flow syntax", doc: flowBomb, code: CodeAliasBomb},
		{name: "modest reuse imports", doc: reused},
		{name: "ampersands in JSON strings are not anchors", doc: `{"openapi": "3.0.3", "info": {"title": "a & b *c*", "version": "1"}, "paths": {}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res, err := Import(context.Background(), []byte(tt.doc), Options{})
			assert.Less(t, time.Since(start), 5*time.Second)
			if tt.code == "" {
				require.NoError(t, err)
				assert.NotNil(t, res.Document)
				return
			}
			var ie *ImportError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.code, ie.Code, ie.Error())
		})
	}
}

func TestAliasReuseKeepsContent(t *testing.T) {
	t.Parallel()
	doc := header30 + `paths:
  /a:
    get:
      responses:
        '200': &ok
          description: ok
          content:
            application/json:
              schema: {type: object, properties: {a_id: {type: string}}}
  /b:
    get:
      responses:
        '200': *ok
`
	res, err := Import(context.Background(), []byte(doc), Options{})
	require.NoError(t, err)
	require.Len(t, res.Operations, 2)
	assert.JSONEq(t, string(res.Operations[0].Responses[0].Schema), string(res.Operations[1].Responses[0].Schema))
	assert.Equal(t, []ProducedValue{{Key: "a_id", Field: "/a_id"}}, res.Operations[1].Produces)
}
