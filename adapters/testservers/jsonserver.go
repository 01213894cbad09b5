package testservers

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

//go:embed jsonserver.openapi.json
var jsonServerOpenAPI []byte

// jsonServerVersion is the pinned json-server (1.x is a different program).
const jsonServerVersion = "0.17.4"

const jsonServerStartTimeout = 20 * time.Second

// JSONServerOpenAPI returns the OpenAPI document written for the default
// fixture's resources (users, todos, posts, comments), with a placeholder
// server URL.
func JSONServerOpenAPI() []byte {
	return append([]byte(nil), jsonServerOpenAPI...)
}

// JSONServerFixture returns the path of the default fixture,
// deploy/testservers/fixtures/db.json, which JSONServerOpenAPI describes.
func JSONServerFixture(tb testing.TB) string {
	tb.Helper()
	dir, err := npmDir()
	if err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	return filepath.Join(dir, "fixtures", "db.json")
}

// JSONServer is a json-server 0.17.4 process serving a private copy of a
// fixture, behind the middlewares of deploy/testservers/middleware: an
// optional API key or bearer token check and optional Stripe-style
// Idempotency-Key handling. It also serves its OpenAPI document at
// /openapi.json, without credentials.
type JSONServer struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string
	// DBPath is the server's copy of the fixture. json-server rewrites it
	// after each change, asynchronously: read the state with ReadDB.
	DBPath string

	cfg      jsonServerConfig
	document []byte
	proc     *nodeProcess
}

// JSONServerOption configures StartJSONServer.
type JSONServerOption func(*jsonServerConfig)

type jsonServerConfig struct {
	apiKey, apiKeyIn, apiKeyName string
	bearerToken                  string
	idempotency                  bool
	noKeyParameter               bool
	delay                        time.Duration
}

// JSONServerAPIKey demands key in the header, query parameter or cookie
// (in: "header", "query" or "cookie") called name; the served document's
// apiKey scheme says the same. With JSONServerBearerToken too, either
// credential is enough.
func JSONServerAPIKey(in, name, key string) JSONServerOption {
	return func(c *jsonServerConfig) { c.apiKeyIn, c.apiKeyName, c.apiKey = in, name, key }
}

// JSONServerBearerToken demands "Authorization: Bearer <token>".
func JSONServerBearerToken(token string) JSONServerOption {
	return func(c *jsonServerConfig) { c.bearerToken = token }
}

// JSONServerIdempotency makes POST honour Idempotency-Key as Stripe does: the
// same key and parameters return the first response (with
// Idempotent-Replayed: true) and create nothing; the same key with other
// parameters is a 400; while the first request runs, a second is a 409.
func JSONServerIdempotency() JSONServerOption {
	return func(c *jsonServerConfig) { c.idempotency = true }
}

// JSONServerWithoutIdempotencyKeyParameter serves the document without its
// optional Idempotency-Key header parameter on the POSTs, as the document of
// an API that takes no idempotency key (APIQ then sends none).
func JSONServerWithoutIdempotencyKeyParameter() JSONServerOption {
	return func(c *jsonServerConfig) { c.noKeyParameter = true }
}

// JSONServerDelay makes json-server wait d before it handles each request
// (its --delay): the request is read, then handled after d even when its
// client has gone meanwhile, as a slow API still finishes a create its
// caller gave up on.
func JSONServerDelay(d time.Duration) JSONServerOption {
	return func(c *jsonServerConfig) { c.delay = d }
}

// StartJSONServer copies fixture (a json-server db.json) into a temporary
// directory, starts json-server on it on a free 127.0.0.1 port and stops it
// when the test ends, printing its request log if the test failed. It fails
// the test when Node.js or the npm package is missing (`make test` installs
// the package).
func StartJSONServer(tb testing.TB, fixture string, opts ...JSONServerOption) *JSONServer {
	tb.Helper()
	var cfg jsonServerConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.apiKey != "" && cfg.apiKeyIn != "header" && cfg.apiKeyIn != "query" && cfg.apiKeyIn != "cookie" {
		tb.Fatalf("testservers: json-server API key location %q: want header, query or cookie", cfg.apiKeyIn)
	}
	if cfg.apiKey != "" && cfg.apiKeyName == "" {
		tb.Fatalf("testservers: json-server API key needs a name")
	}
	data, err := os.ReadFile(fixture)
	if err != nil {
		tb.Fatalf("testservers: json-server fixture: %v", err)
	}
	dir := tb.TempDir()
	dbPath := filepath.Join(dir, "db.json")
	// json-server serves ./public when it exists at start-up; the document
	// is written there once the port is known.
	public := filepath.Join(dir, "public")
	if err := os.WriteFile(dbPath, data, 0o600); err != nil {
		tb.Fatalf("testservers: json-server fixture copy: %v", err)
	}
	if err := os.Mkdir(public, 0o700); err != nil {
		tb.Fatalf("testservers: json-server public dir: %v", err)
	}
	middleware, err := npmDir()
	if err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	middleware = filepath.Join(middleware, "middleware")

	proc, err := startNode(context.Background(), nodeServer{
		name:    "json-server",
		pkg:     "json-server",
		version: jsonServerVersion,
		script:  filepath.Join("json-server", "lib", "cli", "bin.js"),
		// The source file goes before --middlewares, which takes the rest.
		args: append(append([]string{dbPath, "--host", "127.0.0.1", "--port", "{port}"}, cfg.arguments()...), "--middlewares",
			filepath.Join(middleware, "log.js"), filepath.Join(middleware, "auth.js"), filepath.Join(middleware, "idempotency.js")),
		dir:          dir,
		env:          cfg.environment(),
		readyPath:    "/openapi.json",
		startTimeout: jsonServerStartTimeout + cfg.delay,
		answerDelay:  cfg.delay,
	})
	if err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	s := &JSONServer{URL: proc.baseURL, DBPath: dbPath, cfg: cfg, proc: proc}
	tb.Cleanup(func() {
		proc.stop()
		if tb.Failed() {
			tb.Logf("json-server output:\n%s", proc.out.String())
		}
	})
	source := jsonServerOpenAPI
	if cfg.noKeyParameter {
		if source, err = withoutIdempotencyKeyParameter(source); err != nil {
			tb.Fatalf("testservers: json-server: %v", err)
		}
	}
	doc, err := serveDocument(source, s.URL, cfg.editSchemes)
	if err != nil {
		tb.Fatalf("testservers: json-server: %v", err)
	}
	s.document = doc
	if err := os.WriteFile(filepath.Join(public, "openapi.json"), doc, 0o600); err != nil {
		tb.Fatalf("testservers: json-server document: %v", err)
	}
	return s
}

// withoutIdempotencyKeyParameter drops the IdempotencyKey parameter from
// every operation and from the components.
func withoutIdempotencyKeyParameter(raw []byte) ([]byte, error) {
	const ref = "#/components/parameters/IdempotencyKey"
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, raw := range ops {
			op, _ := raw.(map[string]any)
			params, ok := op["parameters"].([]any)
			if !ok {
				continue
			}
			kept := []any{}
			for _, p := range params {
				if m, _ := p.(map[string]any); m["$ref"] != ref {
					kept = append(kept, p)
				}
			}
			op["parameters"] = kept
		}
	}
	if components, ok := doc["components"].(map[string]any); ok {
		if params, ok := components["parameters"].(map[string]any); ok {
			delete(params, "IdempotencyKey")
		}
	}
	return json.Marshal(doc)
}

// arguments are json-server's own options.
func (c jsonServerConfig) arguments() []string {
	if c.delay <= 0 {
		return nil
	}
	return []string{"--delay", strconv.FormatInt(max(c.delay.Milliseconds(), 1), 10)}
}

// environment configures the middlewares (deploy/testservers/middleware).
func (c jsonServerConfig) environment() []string {
	idempotency := "0"
	if c.idempotency {
		idempotency = "1"
	}
	return []string{
		"NODE_ENV=test", // json-server's own request logger stays quiet; log.js prints plain lines
		"APIQ_JS_API_KEY=" + c.apiKey,
		"APIQ_JS_API_KEY_IN=" + c.apiKeyIn,
		"APIQ_JS_API_KEY_NAME=" + c.apiKeyName,
		"APIQ_JS_BEARER_TOKEN=" + c.bearerToken,
		"APIQ_JS_IDEMPOTENCY=" + idempotency,
	}
}

// editSchemes makes the document's apiKey scheme say where the key goes.
func (c jsonServerConfig) editSchemes(schemes map[string]any) {
	if c.apiKey == "" {
		return
	}
	if scheme, ok := schemes["apiKey"].(map[string]any); ok {
		scheme["in"], scheme["name"] = c.apiKeyIn, c.apiKeyName
	}
}

// OpenAPIURL is where the server serves its OpenAPI document.
func (s *JSONServer) OpenAPIURL() string { return s.URL + "/openapi.json" }

// OpenAPIDocument returns the document served at OpenAPIURL: the json-server
// document with this server as its only server and the configured API key
// location.
func (s *JSONServer) OpenAPIDocument() []byte { return append([]byte(nil), s.document...) }

// Output returns what the server printed so far: one line per request.
func (s *JSONServer) Output() string { return s.proc.out.String() }

// ReadDB returns the server's database, resource by resource, as json-server
// holds it: from GET /db (with the configured credentials) while the server
// runs, since its write of db.json may still be under way when a response
// arrives; from db.json once it has stopped.
func (s *JSONServer) ReadDB(tb testing.TB) map[string]json.RawMessage {
	tb.Helper()
	data, err := s.readLiveDB()
	if err != nil {
		select {
		case <-s.proc.exited:
			data, err = os.ReadFile(s.DBPath)
		default:
		}
	}
	if err != nil {
		tb.Fatalf("testservers: read json-server db: %v", err)
	}
	var db map[string]json.RawMessage
	if err := json.Unmarshal(data, &db); err != nil {
		tb.Fatalf("testservers: parse json-server db: %v", err)
	}
	return db
}

func (s *JSONServer) readLiveDB() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/db", nil)
	if err != nil {
		return nil, err
	}
	s.cfg.authenticate(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /db: %s: %s", resp.Status, data)
	}
	return data, nil
}

// authenticate adds the configured credential to req.
func (c jsonServerConfig) authenticate(req *http.Request) {
	switch {
	case c.bearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.bearerToken)
	case c.apiKey == "":
	case c.apiKeyIn == "query":
		q := req.URL.Query()
		q.Set(c.apiKeyName, c.apiKey)
		req.URL.RawQuery = q.Encode()
	case c.apiKeyIn == "cookie":
		req.AddCookie(&http.Cookie{Name: c.apiKeyName, Value: c.apiKey})
	default:
		req.Header.Set(c.apiKeyName, c.apiKey)
	}
}

// DecodeResource decodes one resource of the database (such as "users")
// into into, typically a pointer to a slice of the caller's struct.
func (s *JSONServer) DecodeResource(tb testing.TB, resource string, into any) {
	tb.Helper()
	raw, ok := s.ReadDB(tb)[resource]
	if !ok {
		tb.Fatalf("testservers: json-server db has no resource %q", resource)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		tb.Fatalf("testservers: decode json-server %s: %v", resource, err)
	}
}

// Records returns the items of one resource of the database; numbers decode
// as json.Number.
func (s *JSONServer) Records(tb testing.TB, resource string) []map[string]any {
	tb.Helper()
	raw, ok := s.ReadDB(tb)[resource]
	if !ok {
		tb.Fatalf("testservers: json-server db has no resource %q", resource)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var records []map[string]any
	if err := dec.Decode(&records); err != nil {
		tb.Fatalf("testservers: decode json-server %s: %v", resource, err)
	}
	return records
}
