package vault

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestKeyCacheBoundsAndExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	c := newKeyCache(3, time.Minute, func() time.Time { return now })
	for i := range 5 {
		c.put(fmt.Sprint(i), dataKey{owner: fmt.Sprint(i)})
	}
	assert.Equal(t, 3, c.len(), "the cache never holds more than its bound")
	_, ok := c.get("0")
	assert.False(t, ok, "the least recently used entry went first")
	_, ok = c.get("2")
	assert.True(t, ok)
	c.put("5", dataKey{})
	_, ok = c.get("2")
	assert.True(t, ok, "a recently read entry stays")
	_, ok = c.get("3")
	assert.False(t, ok)

	now = now.Add(2 * time.Minute)
	_, ok = c.get("2")
	assert.False(t, ok, "entries expire")
	c.evict("4", "5")
	assert.Equal(t, 0, c.len())
}
