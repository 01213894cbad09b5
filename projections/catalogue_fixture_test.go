package projections

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/connection"
)

// catalogueFixture applies hand-made connection events to the catalogue
// projector in its live schema, each apply in its own transaction, the way
// the runner would.
type catalogueFixture struct {
	pool     *pgxpool.Pool
	blobs    *blobstore.Store
	p        *CatalogueProjector
	base     time.Time
	mu       sync.Mutex
	versions map[string]int64
}

func newCatalogueFixture(tb testing.TB) *catalogueFixture {
	tb.Helper()
	pool := pgtest.NewPool(tb)
	blobs, err := blobstore.New(pool)
	require.NoError(tb, err)
	return &catalogueFixture{
		pool: pool, blobs: blobs, p: NewCatalogueProjector(),
		base: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), versions: map[string]int64{},
	}
}

func (f *catalogueFixture) apply(tb testing.TB, events ...eventstore.RecordedEvent) {
	tb.Helper()
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	require.NoError(tb, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	schema := pgx.Identifier{SchemaName(f.p)}.Sanitize()
	_, err = tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+"; SET LOCAL search_path TO "+schema)
	require.NoError(tb, err)
	_, err = tx.Exec(ctx, f.p.Schema())
	require.NoError(tb, err)
	for _, ev := range events {
		require.NoError(tb, f.p.Apply(ctx, directDB{tx: tx}, ev), "apply %s v%d", ev.Type, ev.Version)
	}
	require.NoError(tb, tx.Commit(ctx))
}

// event records ev as the next event of the connection's stream.
func (f *catalogueFixture) event(tb testing.TB, tenantID, connectionID string, ev domain.Event) eventstore.RecordedEvent {
	tb.Helper()
	stream := connection.StreamPrefix + connectionID
	f.mu.Lock()
	version := f.versions[stream]
	f.versions[stream] = version + 1
	f.mu.Unlock()
	return f.eventAt(tb, tenantID, connectionID, version, ev)
}

// eventAt records ev at a given version of the connection's stream.
func (f *catalogueFixture) eventAt(tb testing.TB, tenantID, connectionID string, version int64, ev domain.Event) eventstore.RecordedEvent {
	tb.Helper()
	data, err := json.Marshal(ev)
	require.NoError(tb, err)
	at := f.base.Add(time.Duration(version) * time.Minute)
	return eventstore.RecordedEvent{
		ID: uuid.New(), StreamID: connection.StreamPrefix + connectionID, Version: version, Type: ev.EventType(),
		Data: data, RecordedAt: at,
		Metadata: eventstore.Metadata{TenantID: tenantID, SchemaVersion: ev.SchemaVersion(), OccurredAt: at},
	}
}

// discovered stores ops as a catalogue blob and returns the event naming it.
func (f *catalogueFixture) discovered(tb testing.TB, tenantID, connectionID string, ops []openapi.Operation) eventstore.RecordedEvent {
	tb.Helper()
	data, err := json.Marshal(ops)
	require.NoError(tb, err)
	hash, err := f.blobs.Put(context.Background(), "application/json", data)
	require.NoError(tb, err)
	return f.event(tb, tenantID, connectionID, connection.EndpointsDiscovered{
		DocumentHash: blobstore.Hash([]byte(connectionID)), CatalogueHash: hash, OperationCount: len(ops),
	})
}

// register registers a connection and imports ops into it.
func (f *catalogueFixture) register(tb testing.TB, tenantID, connectionID, name string, ops []openapi.Operation) {
	tb.Helper()
	f.apply(tb, f.event(tb, tenantID, connectionID, connection.Registered{ConnectionID: connectionID, Name: name, BaseURL: "https://api.example.com"}),
		f.discovered(tb, tenantID, connectionID, ops))
}

// specsDir holds the shared real-world documents (TESTING.md): next to the
// repository, or where APIQ_SPECS_DIR says.
func specsDir() string {
	if dir := os.Getenv("APIQ_SPECS_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "specs")
}

// sharedCatalogues imports each shared document once per test binary.
var sharedCatalogues = struct {
	mu   sync.Mutex
	done map[string][]openapi.Operation
}{done: map[string][]openapi.Operation{}}

// specOperations imports a shared document's catalogue, skipping the test
// when the documents are absent. The Spotify document is broken as shipped
// (booleans and numbers written as strings, a dangling external $ref): it is
// repaired in memory first, as a user would before registering it.
func specOperations(tb testing.TB, file string) []openapi.Operation {
	tb.Helper()
	sharedCatalogues.mu.Lock()
	defer sharedCatalogues.mu.Unlock()
	if ops, ok := sharedCatalogues.done[file]; ok {
		return ops
	}
	data, err := os.ReadFile(filepath.Join(specsDir(), file))
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("shared spec %s not found under %s (set APIQ_SPECS_DIR)", file, specsDir())
	}
	require.NoError(tb, err)
	if strings.Contains(file, "broken") {
		data = repairDocument(tb, data)
	}
	res, err := openapi.Import(context.Background(), data, openapi.Options{})
	require.NoError(tb, err, file)
	sharedCatalogues.done[file] = res.Operations
	return res.Operations
}

var numeric = regexp.MustCompile(`^-?\d+(\.\d+)?$`)

// repairDocument turns "true"/"false" strings of boolean keywords into
// booleans, numeric strings of numeric keywords of number schemas into
// numbers, and drops objects that are external $refs.
func repairDocument(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var doc any
	require.NoError(tb, json.Unmarshal(data, &doc))
	booleans := map[string]bool{"required": true, "explode": true, "additionalProperties": true, "nullable": true,
		"deprecated": true, "allowEmptyValue": true, "uniqueItems": true, "readOnly": true, "writeOnly": true}
	numbers := map[string]bool{"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "minItems": true,
		"maxItems": true, "default": true, "example": true, "multipleOf": true}
	var fix func(v any)
	fix = func(v any) {
		switch node := v.(type) {
		case map[string]any:
			typ, _ := node["type"].(string)
			for k, child := range node {
				s, isString := child.(string)
				switch {
				case isString && booleans[k] && (s == "true" || s == "false"):
					node[k] = s == "true"
				case isString && numbers[k] && (typ == "integer" || typ == "number") && numeric.MatchString(s):
					node[k] = json.Number(s)
				default:
					if m, ok := child.(map[string]any); ok {
						if ref, ok := m["$ref"].(string); ok && !strings.HasPrefix(ref, "#") {
							delete(node, k)
							continue
						}
					}
					fix(child)
				}
			}
		case []any:
			for _, child := range node {
				fix(child)
			}
		}
	}
	fix(doc)
	out, err := json.Marshal(doc)
	require.NoError(tb, err)
	return out
}
