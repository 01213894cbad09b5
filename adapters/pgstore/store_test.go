package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/eventstoretest"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

// newPool opens a pool on a fresh database, large enough for the contract's
// 16 concurrent appenders to reach the server at once.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Connect(context.Background(), pgtest.NewDatabase(t)+"&pool_max_conns=24")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestContract(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstoretest.Harness {
		pool := newPool(t)
		store, err := pgstore.New(pool)
		require.NoError(t, err)
		return eventstoretest.Harness{Store: store, Feed: store, HoldOpen: holdOpen(pool, store)}
	})
}

// holdOpen appends in a transaction of its own and leaves it open.
func holdOpen(pool *pgxpool.Pool, store *pgstore.Store) eventstoretest.HoldOpenFunc {
	return func(ctx context.Context, stream string, events []eventstore.EventData) (eventstore.AppendResult, func(context.Context) error, error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return eventstore.AppendResult{}, nil, err
		}
		res, err := store.AppendTx(ctx, tx, stream, eventstore.NoStream, events)
		if err != nil {
			_ = tx.Rollback(ctx)
			return eventstore.AppendResult{}, nil, err
		}
		return res, func(ctx context.Context) error {
			if err := tx.Commit(ctx); err != nil {
				return err
			}
			store.Signal()
			return nil
		}, nil
	}
}

func TestAppendTxMustBeFirstWriteAndReadCommitted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := pgstore.New(pool)
	require.NoError(t, err)
	cases := []struct {
		name    string
		options pgx.TxOptions
		before  string // statement run in the transaction before the append
		wantErr error
	}{
		{"first write, read committed", pgx.TxOptions{}, "SELECT 1", nil},
		{"after a write", pgx.TxOptions{}, "SELECT pg_current_xact_id()", eventstore.ErrInvalidAppend},
		{"repeatable read", pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, "SELECT 1", eventstore.ErrInvalidAppend},
		{"serializable", pgx.TxOptions{IsoLevel: pgx.Serializable}, "SELECT 1", eventstore.ErrInvalidAppend},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := "txcase-" + string(rune('a'+i))
			tx, err := pool.BeginTx(ctx, c.options)
			require.NoError(t, err)
			defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
			_, err = tx.Exec(ctx, c.before)
			require.NoError(t, err)
			ev := eventstore.EventData{ID: eventstore.EventID("t", stream, "r", 0), Type: "T", Metadata: eventstore.Metadata{TenantID: "t"}}
			_, err = store.AppendTx(ctx, tx, stream, eventstore.NoStream, []eventstore.EventData{ev})
			if c.wantErr != nil {
				assert.ErrorIs(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))
			got, err := store.ReadStream(ctx, stream, 0, 0)
			require.NoError(t, err)
			assert.Len(t, got, 1)
		})
	}
}

func TestIdempotentRetryReportsTheOriginalResult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := pgstore.New(pgtest.NewPool(t))
	require.NoError(t, err)
	batch := []eventstore.EventData{
		{ID: eventstore.EventID("t", "idem-1", "r", 0), Type: "A", Metadata: eventstore.Metadata{TenantID: "t"}},
		{ID: eventstore.EventID("t", "idem-1", "r", 1), Type: "B", Metadata: eventstore.Metadata{TenantID: "t"}},
	}
	first, err := store.Append(ctx, "idem-1", eventstore.NoStream, batch)
	require.NoError(t, err)
	_, err = store.Append(ctx, "idem-1", 1, batch[:1])
	require.NoError(t, err, "a retry of part of a request is idempotent too")
	again, err := store.Append(ctx, "idem-1", eventstore.NoStream, batch)
	require.NoError(t, err)
	assert.Equal(t, first, again, "same version and feed position as the original append")

	_, err = store.Append(ctx, "idem-2", eventstore.NoStream, batch)
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "event ids of one stream cannot be appended to another")
	_, err = store.Append(ctx, "idem-1", 1, append(batch[1:], eventstore.EventData{
		ID: eventstore.EventID("t", "idem-1", "r2", 0), Type: "C", Metadata: eventstore.Metadata{TenantID: "t"}}))
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "a batch mixing stored and new ids is refused")
	_, err = store.Append(ctx, "idem-3", eventstore.NoStream, []eventstore.EventData{batch[0], batch[0]})
	assert.ErrorIs(t, err, eventstore.ErrInvalidAppend, "one id twice in a batch")
}
