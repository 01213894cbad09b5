//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/domain/plan"
	"github.com/apiq/apiq/http/auth"
)

// Crash test sizes: executions started, and the least number of SIGKILLs
// that land while executions are unfinished.
const (
	crashExecutions = 50
	crashMinKills   = 20
	crashTodos      = 3
	crashAPIDelay   = 100 * time.Millisecond
)

// TestSIGKILLDurability runs the real `apiq serve` binary against
// json-server, starts 50 executions of a create-then-create flow and
// SIGKILLs the process at random moments at least 20 times while they run,
// restarting it each time. Afterwards json-server's data shows no create
// made twice, every acknowledged execution exists and either completed
// with each create once or is held for attention naming the one step whose
// outcome is unknown (which created at most once). When json-server
// honours Idempotency-Key and the document declares it, every execution
// completes with each create exactly once.
func TestSIGKILLDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills apiq serve repeatedly")
	}
	bin := filepath.Join(t.TempDir(), "apiq")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	for _, tc := range []struct {
		name        string
		idempotency bool
	}{
		{name: "no idempotency key: unknown outcomes held for attention"},
		{name: "Idempotency-Key honoured: every execution completes", idempotency: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runCrashScenario(t, bin, tc.idempotency)
		})
	}
}

func runCrashScenario(t *testing.T, bin string, idempotency bool) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	// Each request is handled 100 ms after it is read, even when apiq died
	// meanwhile: kills land between a create and its answer.
	jsOpts := []testservers.JSONServerOption{testservers.JSONServerDelay(crashAPIDelay)}
	if idempotency {
		jsOpts = append(jsOpts, testservers.JSONServerIdempotency())
	} else {
		jsOpts = append(jsOpts, testservers.JSONServerWithoutIdempotencyKeyParameter())
	}
	js := testservers.StartJSONServer(t, testservers.JSONServerFixture(t), jsOpts...)
	document := js.OpenAPIDocument()

	dbURL := pgtest.NewDatabase(t)
	p := newServeProcess(t, bin, map[string]string{
		"APIQ_DATABASE_URL":       dbURL,
		"APIQ_DATA_DIR":           t.TempDir(),
		"APIQ_BOOTSTRAP_EMAIL":    e2eAdminEmail,
		"APIQ_BOOTSTRAP_PASSWORD": e2eAdminPassword,
		"APIQ_OUTBOUND_ALLOW":     "127.0.0.1/32",
		"APIQ_EXECUTION_LEASE":    "1s",
		"APIQ_RATE_LIMIT":         "100000",
		"APIQ_RATE_BURST":         "100000",
		"APIQ_LOG_LEVEL":          "warn",
	})
	p.start()
	api := client{t: t, base: p.base}
	admin := api.login(e2eAdminEmail, e2eAdminPassword)
	connectionID := registerConnection(t, api, admin, js.URL, document)

	pool, err := postgres.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	planID := appendConfirmedPlan(t, api, pool, admin, taggedTodosPlan(connectionID))

	// Kill cycles: each restarts the server, posts a share of the
	// executions at random moments and SIGKILLs the server at a random
	// moment; a kill counts when executions are unfinished at that moment.
	var (
		mu       sync.Mutex
		acked    = map[string]string{} // tag → execution id answered 202
		unacked  []string              // tags whose POST got no answer
		kills    int
		cycle    int
		deadline = time.Now().Add(5 * time.Minute) // a quiet machine needs about a minute
	)
	post := func() bool {
		mu.Lock()
		full := len(acked) >= crashExecutions
		mu.Unlock()
		if full {
			return false
		}
		tag := uuid.NewString()
		id, ok := postExecution(p.base, admin, planID, tag)
		mu.Lock()
		defer mu.Unlock()
		if ok {
			acked[tag] = id
		} else {
			unacked = append(unacked, tag)
		}
		return ok
	}
	for kills < crashMinKills || len(acked) < crashExecutions {
		require.True(t, time.Now().Before(deadline), "%d kills and %d executions in time (%d cycles)", kills, len(acked), cycle)
		if cycle > 0 {
			p.start()
		}
		cycle++
		// This cycle's share of the executions left, keeping one for each
		// kill still needed, this one's included: on a fast machine the
		// share may end before the kill, and the one kept is started then.
		remaining, left := crashExecutions-len(acked), max(crashMinKills-kills, 1)
		quota := max(0, min((remaining+left-1)/left, remaining-left))
		window := time.Duration(50+rng.IntN(1200)) * time.Millisecond
		posted := make(chan struct{})
		go func(delays []time.Duration) {
			defer close(posted)
			for _, d := range delays {
				time.Sleep(d)
				if !post() {
					return
				}
			}
		}(randomDelays(rng, quota, window))
		time.Sleep(window)
		if unfinished(t, pool) == 0 {
			// Everything ended before this moment: start one more (from the
			// share kept for the later kills) and kill while it runs.
			<-posted
			if post() {
				// Well inside the execution's five calls of 100 ms each.
				time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
			}
		}
		if unfinished(t, pool) > 0 {
			kills++
		}
		p.kill()
		<-posted
		require.False(t, len(acked) == crashExecutions && kills < crashMinKills && unfinished(t, pool) == 0,
			"every execution ended after %d kills (%d cycles)", kills, cycle)
	}
	t.Logf("%d cycles, %d kills while executions ran, %d executions acknowledged, %d posts unanswered; %d starts took %s on average",
		cycle, kills, len(acked), len(unacked), p.starts, p.starting/time.Duration(p.starts))

	// The last start runs everything to its end; the read model follows.
	p.start()
	require.Eventually(t, func() bool { return unfinished(t, pool) == 0 }, 2*time.Minute, 100*time.Millisecond,
		"every execution ends after the last restart")
	var all []map[string]any
	require.Eventually(t, func() bool {
		all = listExecutions(t, api, admin)
		for _, e := range all {
			switch e["status"] {
			case "pending", "running":
				return false
			}
		}
		return len(all) >= len(acked)
	}, time.Minute, 100*time.Millisecond, "the read model shows every execution ended")
	for _, e := range all {
		assert.Contains(t, []any{"completed", "needs_attention"}, e["status"], "execution %s (acknowledged or not) ended: %v", e["id"], e["outcome"])
	}

	users := js.Records(t, "users")
	todos := js.Records(t, "todos")
	creates := countCreates(t, users, todos)
	known := map[string]bool{}
	for _, tag := range unacked {
		known[tag] = true
	}
	for tag := range acked {
		known[tag] = true
	}
	for key, n := range creates {
		assert.LessOrEqual(t, n, 1, "create %v made %d times", key, n)
		assert.True(t, known[key.tag], "create %v comes from a posted execution", key)
	}

	statuses := map[string]int{}
	for tag, id := range acked {
		status, got := api.call("GET", "/v1/executions/"+id, admin, "")
		require.Equal(t, http.StatusOK, status, "acknowledged execution %s exists: %v", id, got)
		statuses[got["status"].(string)]++
		checkCrashOutcome(t, got, tag, creates, users, todos)
		for _, raw := range got["steps"].([]any) {
			if st := raw.(map[string]any); st["key"] == "make_user" {
				request, _ := st["request"].(map[string]any)
				assert.Equal(t, idempotency, request["idempotency_key"] != nil && request["idempotency_key"] != "",
					"execution %s: the create carries an Idempotency-Key only when the document declares one: %v", id, request)
			}
		}
		if idempotency {
			assert.Equal(t, "completed", got["status"], "with Idempotency-Key every execution completes: %v", got["outcome"])
		}
	}
	sent := strings.Count(js.Output(), "POST /users ") + strings.Count(js.Output(), "POST /todos ")
	t.Logf("outcomes: %v; json-server answered %d creates and holds %d", statuses, sent, len(creates))
	assert.Equal(t, crashExecutions, statuses["completed"]+statuses["needs_attention"], "outcomes %v", statuses)
	if t.Failed() {
		t.Logf("apiq output:\n%s", p.out.String())
	}
}

// registerConnection registers the json-server connection and returns its
// id. On a busy machine the import may outlast the request (503, 504)
// while it still completes: the connection then shows in the list, or the
// registration is sent again.
func registerConnection(t *testing.T, api client, token, baseURL string, document []byte) string {
	t.Helper()
	body := mustJSON(t, map[string]any{"name": "todos", "base_url": baseURL, "document": string(document)})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, conn := api.call("POST", "/v1/connections", token, body)
		if status == http.StatusCreated {
			return conn["id"].(string)
		}
		t.Logf("registering the connection: %d %v", status, conn)
		for range 20 {
			_, list := api.call("GET", "/v1/connections", token, "")
			conns, _ := list["connections"].([]any)
			for _, c := range conns {
				if c, _ := c.(map[string]any); c["name"] == "todos" {
					return c["id"].(string)
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
		require.True(t, time.Now().Before(deadline), "the connection is registered")
	}
}

// taggedTodosPlan creates a user, then crashTodos todos for the new id, then
// lists them; every create carries the execution's tag.
func taggedTodosPlan(connectionID string) plan.Plan {
	call := func(op string) *plan.Call { return &plan.Call{ConnectionID: connectionID, OperationID: op} }
	mk := call("createUser")
	mk.Body = map[string]any{"name": "crash", "username": "${ inputs.tag }", "email": "crash@example.com", "tag": "${ inputs.tag }"}
	todo := call("createTodo")
	todo.Body = map[string]any{"userId": "${ steps.make_user.output.id }", "title": "${ item }", "completed": false, "tag": "${ inputs.tag }"}
	list := call("listUserTodos")
	list.Path = map[string]any{"userId": "${ steps.make_user.output.id }"}
	return plan.Plan{
		Inputs: []plan.Input{{Name: "tag", Required: true}, {Name: "todos", Required: true}},
		Steps: []plan.Step{
			{ID: "make_user", Kind: plan.KindCall, Call: mk},
			{ID: "each", Kind: plan.KindForeach, Foreach: &plan.Foreach{Items: "inputs.todos", MaxIterations: crashTodos,
				Steps: []plan.Step{{ID: "todo", Kind: plan.KindCall, Call: todo}}}},
			{ID: "todos", Kind: plan.KindCall, Call: list},
			{ID: "count", Kind: plan.KindTransform, Transform: &plan.Transform{Expr: "len(steps.todos.output)"}},
		},
	}
}

// todoTitles are the items of every execution's foreach.
func todoTitles() []string {
	out := make([]string, crashTodos)
	for i := range out {
		out[i] = "todo-" + strconv.Itoa(i)
	}
	return out
}

// createKey names one create of one execution: the user (title "") or a todo.
type createKey struct{ tag, title string }

func countCreates(t *testing.T, users, todos []map[string]any) map[createKey]int {
	t.Helper()
	n := map[createKey]int{}
	for _, u := range users {
		if tag, ok := u["tag"].(string); ok {
			n[createKey{tag: tag}]++
		}
	}
	for _, td := range todos {
		if tag, ok := td["tag"].(string); ok {
			title, _ := td["title"].(string)
			require.NotEmpty(t, title, "a tagged todo has a title: %v", td)
			n[createKey{tag: tag, title: title}]++
		}
	}
	return n
}

// stepCreate is the create a step key makes.
func stepCreate(tag, key string) (createKey, bool) {
	if key == "make_user" {
		return createKey{tag: tag}, true
	}
	for i, title := range todoTitles() {
		if key == fmt.Sprintf("each[%d].todo", i) {
			return createKey{tag: tag, title: title}, true
		}
	}
	return createKey{}, false
}

// checkCrashOutcome checks one execution against json-server's data: a
// completed one made each create once, with the user's id on its todos; one
// held for attention names the one step whose outcome is unknown, made
// every create before it once, at most one for it and none after it.
func checkCrashOutcome(t *testing.T, got map[string]any, tag string, creates map[createKey]int, users, todos []map[string]any) {
	t.Helper()
	id := got["id"]
	steps := map[string]string{}
	for _, raw := range got["steps"].([]any) {
		st := raw.(map[string]any)
		steps[st["key"].(string)] = st["status"].(string)
	}
	order := []string{"make_user"}
	for i := range crashTodos {
		order = append(order, fmt.Sprintf("each[%d].todo", i))
	}
	switch got["status"] {
	case "completed":
		for _, key := range order {
			ck, _ := stepCreate(tag, key)
			assert.Equal(t, 1, creates[ck], "execution %s completed: %s created once", id, key)
			assert.Equal(t, "succeeded", steps[key], "execution %s: %s", id, key)
		}
		var userID string
		for _, u := range users {
			if u["tag"] == tag {
				userID = fmt.Sprint(u["id"])
			}
		}
		for _, td := range todos {
			if td["tag"] == tag {
				assert.Equal(t, userID, fmt.Sprint(td["userId"]), "execution %s: the todo belongs to the new user", id)
			}
		}
		assert.Equal(t, "succeeded", steps["count"], "execution %s", id)
	case "needs_attention":
		outcome, _ := got["outcome"].(map[string]any)
		require.NotNil(t, outcome, "execution %s held for attention says why", id)
		held, _ := outcome["step"].(string)
		_, isCreate := stepCreate(tag, held)
		require.True(t, isCreate, "execution %s: the step held for attention is a create: %v", id, outcome)
		unknown := 0
		for _, status := range steps {
			if status == "unknown" {
				unknown++
			}
		}
		assert.Equal(t, 1, unknown, "execution %s: one step's outcome is unknown: %v", id, steps)
		assert.Equal(t, "unknown", steps[held], "execution %s: %v", id, steps)
		before := true
		for _, key := range order {
			ck, _ := stepCreate(tag, key)
			switch {
			case key == held:
				before = false
				assert.LessOrEqual(t, creates[ck], 1, "execution %s: the unknown step %s created at most once", id, key)
			case before:
				assert.Equal(t, 1, creates[ck], "execution %s: %s before the unknown step created once", id, key)
				assert.Equal(t, "succeeded", steps[key], "execution %s: %s", id, key)
			default:
				assert.Zero(t, creates[ck], "execution %s: %s after the unknown step never ran", id, key)
			}
		}
	default:
		t.Errorf("execution %s ended %v: %v", id, got["status"], got["outcome"])
	}
}

// postExecution starts one execution tagged tag; ok is false when the
// server gave no answer (it was killed meanwhile).
func postExecution(base, token, planID, tag string) (string, bool) {
	body, _ := json.Marshal(map[string]any{"plan_id": planID, "inputs": map[string]any{"tag": tag, "todos": todoTitles()}})
	req, err := http.NewRequest(http.MethodPost, base+"/v1/executions", strings.NewReader(string(body)))
	if err != nil {
		return "", false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	// A connection per request: kept-alive ones to a killed server only add noise.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		return "", false
	}
	var out struct {
		ExecutionID string `json:"execution_id"`
	}
	if json.Unmarshal(raw, &out) != nil || out.ExecutionID == "" {
		return "", false
	}
	return out.ExecutionID, true
}

// randomDelays spreads n moments over window.
func randomDelays(rng *rand.Rand, n int, window time.Duration) []time.Duration {
	if n <= 0 {
		return nil
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(rng.Int64N(int64(window) / int64(n)))
	}
	return out
}

// unfinished counts the executions whose work row is still queued, leaving
// out rows of starts killed before their stream was appended (the engine
// drops those after a minute).
func unfinished(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM execution_work w
		WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream_id = 'execution-' || w.execution_id)`).Scan(&n))
	return n
}

// listExecutions reads every page of the tenant's executions.
func listExecutions(t *testing.T, api client, token string) []map[string]any {
	t.Helper()
	var out []map[string]any
	path := "/v1/executions?limit=200"
	for {
		status, page := api.call("GET", path, token, "")
		require.Equal(t, http.StatusOK, status, page)
		for _, e := range page["executions"].([]any) {
			out = append(out, e.(map[string]any))
		}
		next, _ := page["next"].(string)
		if next == "" {
			return out
		}
		path = "/v1/executions?limit=200&after=" + next
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// appendConfirmedPlan records a plan with one proposed version and its
// confirmation on the plan's stream, as the plan commands do (the engine
// loads confirmed plans from their streams), and returns the plan id.
func appendConfirmedPlan(t *testing.T, api client, pool *pgxpool.Pool, token string, p plan.Plan) string {
	t.Helper()
	status, me := api.call("GET", "/v1/me", token, "")
	require.Equal(t, http.StatusOK, status, me)
	tenantID, userID := me["tenant_id"].(string), me["user"].(map[string]any)["id"].(string)
	store, err := pgstore.New(pool)
	require.NoError(t, err)
	id := uuid.NewString()
	var st plan.State
	requested, err := plan.Decide(st, plan.Request{PlanID: id, Prompt: "create a user and todos", By: userID,
		Result: plan.Result{Status: plan.StatusProposed, Outcome: plan.Outcome{Plan: &p}}})
	require.NoError(t, err)
	for _, ev := range requested {
		st = plan.Evolve(st, ev)
	}
	confirmed, err := plan.Decide(st, plan.Confirm{By: userID, Role: auth.RoleAdmin})
	require.NoError(t, err)
	stream := plan.Stream(id)
	var data []eventstore.EventData
	for i, ev := range append(requested, confirmed...) {
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		data = append(data, eventstore.EventData{ID: eventstore.EventID(tenantID, stream, "confirm-"+id, i), Type: ev.EventType(),
			Data: raw, Metadata: eventstore.Metadata{TenantID: tenantID, SchemaVersion: ev.SchemaVersion(), OccurredAt: time.Now().UTC(),
				Actor: eventstore.Actor{Subject: userID, Role: auth.RoleAdmin, AuthMethod: "password"}, RequestID: "confirm-" + id}})
	}
	_, err = store.Append(context.Background(), stream, eventstore.NoStream, data)
	require.NoError(t, err)
	return id
}

// serveProcess is `apiq serve` as a child process on a fixed loopback
// port, started again after each kill with the same environment.
type serveProcess struct {
	t    *testing.T
	bin  string
	env  []string
	base string
	out  *lockedBuffer

	cmd    *exec.Cmd
	exited chan struct{}
	// starts and starting count the starts and the time they took.
	starts   int
	starting time.Duration
}

func newServeProcess(t *testing.T, bin string, vars map[string]string) *serveProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	env := append(os.Environ(), "APIQ_HTTP_ADDR="+addr)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	p := &serveProcess{t: t, bin: bin, env: env, base: "http://" + addr, out: &lockedBuffer{}}
	t.Cleanup(func() {
		if p.cmd != nil {
			p.kill()
		}
	})
	return p
}

// start runs the server and waits until /readyz answers 200.
func (p *serveProcess) start() {
	p.t.Helper()
	require.Nil(p.t, p.cmd, "the server is not running")
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	require.NoError(p.t, cmd.Start())
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(p.exited)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			p.t.Fatalf("apiq serve exited while starting:\n%s", p.out.String())
		default:
		}
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.starting += time.Since(began)
				p.starts++
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("apiq serve not ready in 30 s:\n%s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serveProcess) kill() {
	p.t.Helper()
	err := p.cmd.Process.Signal(syscall.SIGKILL)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("kill apiq serve: %v", err)
	}
	<-p.exited
	p.cmd = nil
}
