package commands_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/llm"
	"github.com/apiq/apiq/adapters/llm/llmtest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/commands/planning"
	"github.com/apiq/apiq/projections"
)

// planEnv is the command side of plans on a fresh database: connections
// registered by their commands, the catalogue and connections views kept
// by a running runner, a planner asking an llmtest server, and the plan
// handlers.
type planEnv struct {
	*connEnv
	model  *llmtest.Server
	script *script
	runner *projections.Runner
	pdeps  commands.PlanDeps

	request  commands.RequestPlanHandler
	revise   commands.RevisePlanHandler
	confirm  commands.ConfirmPlanHandler
	reject   commands.RejectPlanHandler
	settings commands.ChangePlanSettingsHandler
	plans    *commands.ConfirmedPlanStore
}

// script answers the model's requests in order, each reply built from the
// request (so it can name the tools actually offered).
type script struct {
	t       *testing.T
	mu      sync.Mutex
	replies []func(llmtest.Request) llmtest.Reply
}

func (s *script) push(replies ...func(llmtest.Request) llmtest.Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

func (s *script) handle(r llmtest.Request) llmtest.Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) == 0 {
		s.t.Errorf("the model was asked without a scripted reply")
		return llmtest.Reply{Status: 400, Error: &llmtest.ErrorBody{Message: "no reply scripted", Type: "llmtest_error"}}
	}
	next := s.replies[0]
	s.replies = s.replies[1:]
	return next(r)
}

func newPlanEnv(t *testing.T, tune func(*commands.PlanDeps)) *planEnv {
	t.Helper()
	e := &planEnv{connEnv: newConnEnv(t, loopback), script: &script{t: t}}
	var err error
	e.runner, err = projections.NewRunner(projections.RunnerConfig{
		Pool: e.pool, Feed: e.store, Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond,
		Projectors: []projections.Projector{projections.NewCatalogueProjector(), projections.NewConnectionsProjector()},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.runner.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	e.model = llmtest.New(t, llmtest.WithHandler(e.script.handle))
	client, err := llm.New(llm.Config{BaseURL: e.model.BaseURL(), Model: "test-model", Timeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	planner, err := planning.New(planning.Config{DB: e.pool, Model: client, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	e.pdeps = commands.PlanDeps{Deps: e.deps, Planner: planner, Blobs: e.blobs}
	if tune != nil {
		tune(&e.pdeps)
	}
	e.request, err = commands.NewRequestPlanHandler(e.pdeps)
	require.NoError(t, err)
	e.revise, err = commands.NewRevisePlanHandler(e.pdeps)
	require.NoError(t, err)
	e.confirm, err = commands.NewConfirmPlanHandler(e.pdeps)
	require.NoError(t, err)
	e.reject, err = commands.NewRejectPlanHandler(e.pdeps)
	require.NoError(t, err)
	e.settings, err = commands.NewChangePlanSettingsHandler(e.pdeps)
	require.NoError(t, err)
	e.plans, err = commands.NewConfirmedPlanStore(e.store)
	require.NoError(t, err)
	return e
}

var (
	tmdbOnce sync.Once
	tmdbDoc  []byte
)

// ratingsDoc is a small API that rates movies and deletes ratings.
const ratingsDoc = `openapi: 3.0.3
info: {title: Ratings, version: "1"}
servers: [{url: "https://ratings.example"}]
paths:
  /movies/{movie_id}/rating:
    parameters:
      - {name: movie_id, in: path, required: true, schema: {type: integer}}
    put:
      operationId: rateMovie
      summary: Rate a movie
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [value], properties: {value: {type: number}}}
      responses:
        "200": {description: rated}
    delete:
      operationId: deleteRating
      summary: Delete a movie rating
      responses:
        "204": {description: deleted}
`

// registerMovies registers TMDB and Ratings for tenant and waits until the
// catalogue includes them.
func (e *planEnv) registerMovies(t *testing.T, tenantID string) {
	t.Helper()
	tmdbOnce.Do(func() { tmdbDoc = testservers.ReadSpec(t, "tmdb-3.0.json") })
	ctx := within(t, time.Minute)
	for name, doc := range map[string][]byte{"TMDB": tmdbDoc, "Ratings": []byte(ratingsDoc)} {
		res, err := e.register.Handle(ctx, userOf(tenantID, "reg-"+name+"-"+tenantID), commands.RegisterConnection{
			Name: name, BaseURL: "https://" + strings.ToLower(name) + ".example", Document: commands.DocumentSource{Text: doc}})
		require.NoError(t, err)
		require.NoError(t, e.runner.WaitForPosition(ctx, res.Position))
	}
}

// person is the metadata of a request by a user with a role.
func person(tenantID, userID, role, requestID string) commands.Meta {
	return commands.Meta{TenantID: tenantID, RequestID: requestID, ClientIP: "127.0.0.1", UserAgent: "test",
		Actor: eventstore.Actor{Subject: userID, Role: role, AuthMethod: "password"}}
}

// toolEnding names the offered tool whose name ends with "__"+operationID.
func toolEnding(t *testing.T, r llmtest.Request, operationID string) string {
	for _, name := range r.ToolNames() {
		if strings.HasSuffix(name, "__"+operationID) {
			return name
		}
	}
	t.Errorf("no tool for %s among %v", operationID, r.ToolNames())
	return "missing"
}

// calls scripts a reply calling operations by id, each with its arguments.
func calls(t *testing.T, usage int, steps ...any) func(llmtest.Request) llmtest.Reply {
	return func(r llmtest.Request) llmtest.Reply {
		var out []llmtest.Call
		for i := 0; i+1 < len(steps); i += 2 {
			out = append(out, llmtest.Call{Name: toolEnding(t, r, steps[i].(string)), Arguments: steps[i+1]})
		}
		return llmtest.ToolCalls(llmtest.Usage(usage, usage/10), out...)
	}
}

// searchThenCredits is a valid, read-only answer for the movies tenant.
func searchThenCredits(t *testing.T) func(llmtest.Request) llmtest.Reply {
	return calls(t, 700,
		"GET_search-movie", map[string]any{"step_id": "find", "query": "Inception"},
		"GET_movie-movie_id-credits", map[string]any{"step_id": "credits", "movie_id": "${ steps.find.output.results[0].id }"})
}

// unrate is a valid, destructive answer: find the movie, delete its rating.
func unrate(t *testing.T) func(llmtest.Request) llmtest.Reply {
	return calls(t, 500,
		"GET_search-movie", map[string]any{"step_id": "find", "query": "Inception"},
		"deleteRating", map[string]any{"step_id": "unrate", "movie_id": "${ steps.find.output.results[0].id }"})
}
