package esdbstore_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/esdbstore"
	"github.com/apiq/apiq/adapters/eventstoretest"
)

func TestContract(t *testing.T) {
	url := os.Getenv("APIQ_ESDB_URL")
	if url == "" {
		t.Skip("APIQ_ESDB_URL not set: EventStoreDB contract tests skipped (EventStoreDB cannot run on this machine; see README)")
	}
	eventstoretest.Run(t, func(t *testing.T) eventstoretest.Harness {
		store, err := esdbstore.Dial(esdbstore.Config{URL: url})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- store.Listen(ctx) }()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, store.Close())
		})
		return eventstoretest.Harness{Store: store, Feed: store, FeedTimeout: 30 * time.Second}
	})
}
