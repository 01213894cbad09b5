package planning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/adapters/tools"
	"github.com/apiq/apiq/projections"
)

// catalogue is a tenant's enabled connections and the tool set naming all
// their operations.
type catalogue struct {
	connections []projections.PlanningConnection
	set         *tools.Set
}

// connection returns one of the catalogue's connections.
func (c catalogue) connection(id string) (projections.PlanningConnection, bool) {
	for _, conn := range c.connections {
		if conn.ID == id {
			return conn, true
		}
	}
	return projections.PlanningConnection{}, false
}

// catalogues keeps each tenant's tool set for as long as its enabled
// connections and their catalogues stay the same (a tool set renders each
// tool once), within a bound on the operations held, least recently used
// first out.
type catalogues struct {
	db    DB
	opts  tools.Options
	limit int
	group singleflight.Group

	mu      sync.Mutex
	clock   uint64
	total   int
	entries map[string]*cachedSet // by tenant
}

type cachedSet struct {
	fingerprint string
	set         *tools.Set
	used        uint64
}

func newCatalogues(db DB, opts tools.Options, limit int) *catalogues {
	return &catalogues{db: db, opts: opts, limit: limit, entries: map[string]*cachedSet{}}
}

// fingerprint identifies a set of connections with their names and catalogues.
func fingerprint(conns []projections.PlanningConnection) string {
	h := sha256.New()
	for _, c := range conns {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.ID, c.Name, c.CatalogueHash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// load returns the tenant's enabled connections and their tool set,
// building the set when the connections or catalogues changed.
func (c *catalogues) load(ctx context.Context, tenantID string) (catalogue, []projections.PlanningConnection, error) {
	all, err := projections.PlanningConnections(ctx, c.db, tenantID)
	if err != nil {
		return catalogue{}, nil, err
	}
	var enabled []projections.PlanningConnection
	for _, conn := range all {
		if conn.Enabled {
			enabled = append(enabled, conn)
		}
	}
	if len(enabled) == 0 {
		return catalogue{}, all, nil
	}
	fp := fingerprint(enabled)
	if set, ok := c.cached(tenantID, fp); ok {
		return catalogue{connections: enabled, set: set}, all, nil
	}
	built, err, _ := c.group.Do(tenantID+"\x00"+fp, func() (any, error) {
		set, err := c.build(ctx, enabled)
		if err != nil {
			return nil, err
		}
		c.store(tenantID, fp, set)
		return set, nil
	})
	if err != nil {
		return catalogue{}, nil, err
	}
	return catalogue{connections: enabled, set: built.(*tools.Set)}, all, nil
}

func (c *catalogues) cached(tenantID, fp string) (*tools.Set, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tenantID]
	if !ok || e.fingerprint != fp {
		return nil, false
	}
	c.clock++
	e.used = c.clock
	return e.set, true
}

// store keeps a tenant's new set, dropping its old one and then the least
// recently used others while the bound is exceeded.
func (c *catalogues) store(tenantID, fp string, set *tools.Set) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[tenantID]; ok {
		c.total -= old.set.Len()
	}
	c.clock++
	c.entries[tenantID] = &cachedSet{fingerprint: fp, set: set, used: c.clock}
	c.total += set.Len()
	for c.total > c.limit && len(c.entries) > 1 {
		oldest := ""
		for id, e := range c.entries {
			if id != tenantID && (oldest == "" || e.used < c.entries[oldest].used) {
				oldest = id
			}
		}
		c.total -= c.entries[oldest].set.Len()
		delete(c.entries, oldest)
	}
}

// build names the operations of the connections' catalogues, read from
// the blob store by their hashes.
func (c *catalogues) build(ctx context.Context, conns []projections.PlanningConnection) (*tools.Set, error) {
	var endpoints []tools.Endpoint
	for _, conn := range conns {
		raw, err := blobstore.Get(ctx, c.db, conn.CatalogueHash)
		if err != nil {
			return nil, fmt.Errorf("catalogue of connection %s: %w", conn.ID, err)
		}
		var ops []openapi.Operation
		if err := json.Unmarshal(raw, &ops); err != nil {
			return nil, fmt.Errorf("decode catalogue of connection %s: %w", conn.ID, err)
		}
		for _, op := range ops {
			endpoints = append(endpoints, tools.Endpoint{ConnectionID: conn.ID, ConnectionName: conn.Name, Operation: op})
		}
	}
	set, err := tools.NewSet(endpoints, c.opts)
	if err != nil {
		return nil, fmt.Errorf("tool set: %w", err)
	}
	return set, nil
}
