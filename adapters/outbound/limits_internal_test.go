package outbound

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdleKeysAreSweptOnlyWhenClosedAndIdle(t *testing.T) {
	t.Parallel()
	cfg := Config{Breaker: BreakerConfig{ConsecutiveFailures: 1}}
	cfg.setDefaults()
	k := newKeyGuards(cfg, slog.New(slog.DiscardHandler), nil)
	for i := range sweepAbove {
		k.get(fmt.Sprintf("key-%d", i))
	}
	stale := time.Now().Add(-2 * idleAfter)
	for key, g := range k.byKey {
		if key != "key-1" {
			g.lastUsed = stale
		}
	}
	done, err := k.get("key-2").allow()
	require.NoError(t, err)
	done(outcomeFailure)
	k.byKey["key-2"].lastUsed = stale
	require.Equal(t, BreakerOpen, k.state("key-2"))

	k.get("newcomer")
	assert.Len(t, k.byKey, 3)
	assert.Contains(t, k.byKey, "key-1", "recently used")
	assert.Contains(t, k.byKey, "key-2", "an open breaker is remembered")
	assert.Contains(t, k.byKey, "newcomer")
}
