package vault

import (
	"container/list"
	"sync"
	"time"
)

// dataKey is an unwrapped data key and the scope it belongs to.
type dataKey struct {
	id     [16]byte
	tenant string
	owner  string
	key    []byte
}

// keyCache is a bounded LRU of unwrapped data keys with a time to live,
// indexed by key id and by (tenant, owner) for the owner's live key.
type keyCache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front = most recently used
	items map[string]*list.Element
}

type cacheItem struct {
	name    string
	key     dataKey
	expires time.Time
}

func newKeyCache(max int, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{max: max, ttl: ttl, now: now, order: list.New(), items: map[string]*list.Element{}}
}

func idName(id [16]byte) string             { return "id:" + string(id[:]) }
func ownerName(tenant, owner string) string { return "owner:" + tenant + "\x00" + owner }

func (c *keyCache) get(name string) (dataKey, bool) {
	if c.max <= 0 {
		return dataKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[name]
	if !ok {
		return dataKey{}, false
	}
	it := el.Value.(*cacheItem)
	if c.now().After(it.expires) {
		c.order.Remove(el)
		delete(c.items, name)
		return dataKey{}, false
	}
	c.order.MoveToFront(el)
	return it.key, true
}

func (c *keyCache) put(name string, k dataKey) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[name]; ok {
		c.order.Remove(el)
	}
	c.items[name] = c.order.PushFront(&cacheItem{name: name, key: k, expires: c.now().Add(c.ttl)})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheItem).name)
	}
}

func (c *keyCache) evict(names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range names {
		if el, ok := c.items[name]; ok {
			c.order.Remove(el)
			delete(c.items, name)
		}
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
