package openapi

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSynthesizeOperationID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/users/{id}", "get_users_by_id"},
		{"get", "/users", "get_users"},
		{"POST", "/movie/{movie_id}/rating", "post_movie_by_movie_id_rating"},
		{"DELETE", "/v1/customers/{customer}/sources/{id}", "delete_v1_customers_by_customer_sources_by_id"},
		{"GET", "/", "get_root"},
		{"PATCH", "/userProfiles/{userID}", "patch_user_profiles_by_user_id"},
		{"GET", "/files/{file-name}.json", "get_files_file_name_json"},
		{"PUT", "/repos/{owner}/{repo}/git/refs/{ref}", "put_repos_by_owner_by_repo_git_refs_by_ref"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, SynthesizeOperationID(tt.method, tt.path))
		})
	}
}

func TestSynthesizeOperationIDKeepsLongIDsDistinctAndValid(t *testing.T) {
	t.Parallel()
	long := "/organizations/{organization_id}/projects/{project_id}/environments/{environment_id}/deployments/{deployment_id}/logs"
	a := SynthesizeOperationID("GET", long)
	b := SynthesizeOperationID("GET", long+"/archived")
	valid := regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	assert.Regexp(t, valid, a)
	assert.Regexp(t, valid, b)
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, "get_organizations_by_organization_id"))
	assert.Equal(t, a, SynthesizeOperationID("GET", long), "stable")
}

func TestOperationIDsAreUniqueWithinADocument(t *testing.T) {
	t.Parallel()
	doc := header30 + `paths:
  /users/{id}:
    get:
      responses: {'200': {description: ok}}
    put:
      operationId: get_users_by_id
      responses: {'200': {description: ok}}
  /items:
    get:
      operationId: listThings
      responses: {'200': {description: ok}}
  /things:
    get:
      operationId: listThings
      responses: {'200': {description: ok}}
    post:
      responses: {'200': {description: ok}}
`
	res := importDoc(t, doc, Options{})
	ids := map[string]string{}
	synthesized := map[string]bool{}
	for _, op := range res.Operations {
		ids[op.Key()] = op.OperationID
		synthesized[op.Key()] = op.OperationIDSynthesized
	}
	assert.Equal(t, map[string]string{
		"GET /items":      "listThings",
		"GET /things":     "listThings_2",
		"POST /things":    "post_things",
		"GET /users/{id}": "get_users_by_id_2",
		"PUT /users/{id}": "get_users_by_id",
	}, ids, "document ids are kept; a synthesised id never takes one")
	assert.True(t, synthesized["GET /users/{id}"])
	assert.False(t, synthesized["PUT /users/{id}"])

	w := warningAt(t, res, "/paths/~1things/get/operationId")
	assert.Equal(t, CodeDuplicateOperationID, w.Code)
	assert.Contains(t, w.Message, "listThings_2")
	require.Positive(t, w.Line)
}
