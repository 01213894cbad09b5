package planning_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/domain/plan"
)

func TestDraftWithoutModel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.moviesTenant(t, "t1")
	p := f.newPlanner(t, nil, nil)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		prompt    string
		status    plan.Status
		operation string
		call      plan.Call
		problems  []string
	}{
		"quoted text and name=value": {
			prompt: `search movie "Inception" year=2010`, status: plan.StatusProposed, operation: "GET_search-movie",
			call: plan.Call{Query: map[string]any{"query": "Inception", "year": float64(2010)}},
		},
		"a number for the id": {
			prompt: "credits of movie 27205", status: plan.StatusProposed, operation: "GET_movie-movie_id-credits",
			call: plan.Call{Path: map[string]any{"movie_id": float64(27205)}},
		},
		"a required value not stated": {
			prompt: "credits of a movie", status: plan.StatusFailed, operation: "GET_movie-movie_id-credits",
			problems: []string{plan.CodeMissingParameter},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := p.Plan(ctx, planning.Request{TenantID: "t1", Prompt: tc.prompt})
			require.NoError(t, err)
			o := res.Outcome
			assert.Equal(t, tc.status, res.Status, o.Problems.String())
			assert.Equal(t, plan.ConfidenceLow, o.Confidence)
			assert.Equal(t, planning.ConfigureMessage, o.Message)
			for _, env := range []string{"APIQ_LLM_BASE_URL", "APIQ_LLM_API_KEY", "APIQ_LLM_MODEL"} {
				assert.Contains(t, o.Message, env)
			}
			assert.Equal(t, plan.ModeCatalogueSearch, o.Planning.Mode)
			assert.Zero(t, o.Planning.Usage)
			assert.Empty(t, res.Transcript, "no model, no transcript")
			assert.Equal(t, tc.problems, nilIfEmpty(o.Problems.Codes()))
			require.NotNil(t, o.Plan)
			require.Len(t, o.Plan.Steps, 1)
			got := *o.Plan.Steps[0].Call
			assert.Equal(t, tc.operation, got.OperationID)
			if tc.status == plan.StatusProposed {
				// Through JSON, as the event store keeps it.
				assert.Equal(t, tc.call.Query, roundTripValues(t, got.Query))
				assert.Equal(t, tc.call.Path, roundTripValues(t, got.Path))
				require.NotNil(t, o.Confirmation)
				assert.Equal(t, []string{"t1-tmdb"}, o.Confirmation.Connections)
			}
		})
	}
	t.Run("nothing matches", func(t *testing.T) {
		t.Parallel()
		res, err := p.Plan(ctx, planning.Request{TenantID: "t1", Prompt: "xylophone zeppelin quokka"})
		require.NoError(t, err)
		assert.Equal(t, plan.StatusNoSuitableEndpoint, res.Status)
		assert.True(t, strings.HasPrefix(res.Outcome.Message, "No LLM is configured"))
	})
	t.Run("a revision restates a value", func(t *testing.T) {
		t.Parallel()
		res, err := p.Plan(ctx, planning.Request{TenantID: "t1", Prompt: "movie_id=157336",
			Previous: &planning.Previous{Prompts: []string{"credits of a movie"}}})
		require.NoError(t, err)
		require.Equal(t, plan.StatusProposed, res.Status, res.Outcome.Problems.String())
		assert.Equal(t, map[string]any{"movie_id": float64(157336)}, roundTripValues(t, res.Outcome.Plan.Steps[0].Call.Path))
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
