package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specsDir holds the shared real-world documents (TESTING.md): next to the
// repository, or where APIQ_SPECS_DIR says.
func specsDir() string {
	if dir := os.Getenv("APIQ_SPECS_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "..", "shared", "specs")
}

func specPath(name string) string { return filepath.Join(specsDir(), name) }

// readSpec reads a shared document, skipping when the fixtures are absent.
func readSpec(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(specPath(name))
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("shared spec %s not found under %s (set APIQ_SPECS_DIR)", name, specsDir())
	}
	require.NoError(tb, err)
	return data
}

func TestImportSharedSpecs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		version    string
		format     Format
		operations int
		baseURL    string
		check      func(t *testing.T, res *Result)
	}{
		{
			file: "petstore-3.0.yaml", version: "3.0.4", format: FormatYAML, operations: 19,
			baseURL: "https://petstore3.swagger.io/api/v3",
			check: func(t *testing.T, res *Result) {
				assert.Empty(t, res.Warnings, "petstore imports clean")
				apiKey := schemeNamed(t, res, "api_key")
				assert.Equal(t, "apiKey", apiKey.Type)
				assert.Equal(t, "header", apiKey.In)
				assert.Equal(t, "api_key", apiKey.ParameterName)
				oauth := schemeNamed(t, res, "petstore_auth")
				require.Len(t, oauth.Flows, 1)
				assert.Equal(t, "implicit", oauth.Flows[0].Type)
				assert.Equal(t, "https://petstore3.swagger.io/oauth/authorize", oauth.Flows[0].AuthorizationURL)
				assert.Contains(t, oauth.Flows[0].Scopes, "write:pets")

				// Validation stubs schemas out for a moment; the document keeps them.
				require.NoError(t, res.Document.Validate(context.Background()))
				body := res.Document.Paths.Value("/pet").Post.RequestBody.Value.Content["application/json"].Schema
				require.NotNil(t, body.Value)
				assert.Contains(t, body.Value.Properties, "photoUrls")

				del := operationKeyed(t, res, "DELETE /pet/{petId}")
				assert.Equal(t, SideEffectDestructive, del.SideEffect)
				assert.Equal(t, []SecurityAlternative{{{Scheme: "petstore_auth", Scopes: []string{"write:pets", "read:pets"}}}}, del.Security)
				get := operationKeyed(t, res, "GET /pet/{petId}")
				assert.Equal(t, SideEffectRead, get.SideEffect)
				assert.Equal(t, "getPetById", get.OperationID)
				assert.Contains(t, get.Needs, NeededValue{Key: "pet_id", Name: "petId", In: "path", Required: true})
			},
		},
		{
			file: "tmdb-3.0.json", version: "3.0.0", format: FormatJSON, operations: 54,
			baseURL: "https://api.themoviedb.org/3",
			check: func(t *testing.T, res *Result) {
				require.NotEmpty(t, res.Warnings, "TMDB imports with a warning")
				w := warningAt(t, res, "/paths/~1discover~1movie/get/cache")
				assert.Equal(t, Code("extra_sibling_fields"), w.Code)
				assert.Contains(t, w.Message, "cache")
				assert.Positive(t, w.Line)
				assert.Positive(t, w.Column)
				apiKey := schemeNamed(t, res, "api_key")
				assert.Equal(t, "query", apiKey.In)
				assert.Equal(t, "api_key", apiKey.ParameterName)
				assert.Contains(t, Links(res.Operations), Link{
					Key: "movie_id", Consumer: operationKeyed(t, res, "GET /movie/{movie_id}/credits").OperationID,
					Parameter: "movie_id", In: "path", Required: true,
					Producer: operationKeyed(t, res, "GET /search/movie").OperationID, Field: "/results/*/id",
				})
			},
		},
		{
			file: "stripe-3.0.json", version: "3.0.0", format: FormatJSON, operations: 417,
			baseURL: "https://api.stripe.com/",
			check: func(t *testing.T, res *Result) {
				assert.Empty(t, res.Warnings)
				assert.Equal(t, "bearer", schemeNamed(t, res, "bearerAuth").Scheme)
				create := operationKeyed(t, res, "POST /v1/charges")
				require.NotNil(t, create.RequestBody)
				assert.Equal(t, "application/x-www-form-urlencoded", create.RequestBody.ContentType)
				assert.NotEmpty(t, create.RequestBody.Schema)
				assert.Equal(t, SideEffectDestructive, operationKeyed(t, res, "POST /v1/subscription_schedules/{schedule}/cancel").SideEffect)
				for _, op := range res.Operations {
					for _, r := range op.Responses {
						assert.LessOrEqual(t, len(r.Schema), DefaultMaxSchemaBytes, "%s %s", op.Key(), r.Status)
					}
				}
			},
		},
		{
			file: "stripe-2.0.json", version: "2.0", format: FormatJSON, operations: 350,
			baseURL: "https://api.stripe.com/",
			check: func(t *testing.T, res *Result) {
				create := operationKeyed(t, res, "POST /v1/charges")
				require.NotNil(t, create.RequestBody)
				assert.NotEmpty(t, create.RequestBody.Schema)
				for _, w := range res.Warnings {
					assert.NotEqual(t, CodeTooManyWarnings, w.Code)
					assert.NotEmpty(t, w.Pointer, "warning %s has no pointer", w)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data := readSpec(t, tt.file)
			res, err := Import(context.Background(), data, Options{})
			require.NoError(t, err)
			assert.Equal(t, tt.version, res.Version)
			assert.Equal(t, tt.format, res.Format)
			assert.Len(t, res.Operations, tt.operations)
			assert.Equal(t, tt.baseURL, res.BaseURL)
			assert.Len(t, res.ContentHash, 64)
			assert.NotNil(t, res.Document)
			assertUniqueOperationIDs(t, res.Operations)
			assertValidSchemas(t, res.Operations)
			_, err = json.Marshal(res)
			require.NoError(t, err, "the result travels as JSON")
			tt.check(t, res)
		})
	}
}

func TestImportSpotifyFailsWithLocatedError(t *testing.T) {
	t.Parallel()
	data := readSpec(t, "spotify-3.0-broken.json")
	_, err := Import(context.Background(), data, Options{})
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, CodeInvalidDocument, ie.Code)
	assert.Equal(t, "/paths/~1browse~1new-releases/get/parameters/0/required", ie.Pointer)
	assert.Equal(t, 313, ie.Line)
	assert.Positive(t, ie.Column)
	assert.Contains(t, ie.Message, "bool")
	assert.NotEmpty(t, ie.Others, "the other wrongly typed values are listed too")
	for _, p := range ie.Others {
		assert.NotEmpty(t, p.Pointer)
		assert.Positive(t, p.Line)
	}
}

func assertValidSchemas(t *testing.T, ops []Operation) {
	t.Helper()
	for _, op := range ops {
		for _, p := range op.Parameters {
			assert.True(t, p.Schema == nil || json.Valid(p.Schema), "%s parameter %s", op.Key(), p.Name)
		}
		if op.RequestBody != nil {
			assert.True(t, op.RequestBody.Schema == nil || json.Valid(op.RequestBody.Schema), "%s body", op.Key())
		}
		for _, r := range op.Responses {
			assert.True(t, r.Schema == nil || json.Valid(r.Schema), "%s response %s", op.Key(), r.Status)
		}
	}
}

func schemeNamed(t *testing.T, res *Result, name string) SecurityScheme {
	t.Helper()
	for _, s := range res.SecuritySchemes {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "security scheme missing", "no scheme %q in %v", name, res.SecuritySchemes)
	return SecurityScheme{}
}

func operationKeyed(t *testing.T, res *Result, key string) Operation {
	t.Helper()
	for _, op := range res.Operations {
		if op.Key() == key {
			return op
		}
	}
	require.Failf(t, "operation missing", "no operation %s", key)
	return Operation{}
}

func warningAt(t *testing.T, res *Result, pointer string) Problem {
	t.Helper()
	for _, w := range res.Warnings {
		if w.Pointer == pointer {
			return w
		}
	}
	require.Failf(t, "warning missing", "no warning at %s in %v", pointer, res.Warnings)
	return Problem{}
}

func assertUniqueOperationIDs(t *testing.T, ops []Operation) {
	t.Helper()
	seen := map[string]string{}
	for _, op := range ops {
		require.NotEmpty(t, op.OperationID, op.Key())
		if other, dup := seen[op.OperationID]; dup {
			assert.Failf(t, "duplicate operationId", "%s used by %s and %s", op.OperationID, other, op.Key())
		}
		seen[op.OperationID] = op.Key()
	}
}
