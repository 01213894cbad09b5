package pgstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/eventstore"
	"github.com/apiq/apiq/adapters/pgstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func TestSmokeAppendRead(t *testing.T) {
	ctx := context.Background()
	store, err := pgstore.New(pgtest.NewPool(t))
	require.NoError(t, err)
	ev := eventstore.EventData{ID: eventstore.EventID("t1", "s-1", "r1", 0), Type: "A", Data: json.RawMessage(`{"x":1}`),
		Metadata: eventstore.Metadata{TenantID: "t1", SchemaVersion: 1}}
	res, err := store.Append(ctx, "s-1", eventstore.NoStream, []eventstore.EventData{ev})
	require.NoError(t, err)
	assert.Equal(t, int64(0), res.NextExpectedVersion)
	res2, err := store.Append(ctx, "s-1", eventstore.NoStream, []eventstore.EventData{ev})
	require.NoError(t, err)
	assert.Equal(t, res, res2)
	_, err = store.Append(ctx, "s-1", eventstore.NoStream, []eventstore.EventData{{ID: eventstore.EventID("t1", "s-1", "r2", 0), Type: "B", Metadata: eventstore.Metadata{TenantID: "t1"}}})
	var wev *eventstore.WrongExpectedVersionError
	require.ErrorAs(t, err, &wev)
	assert.Equal(t, int64(0), wev.Actual)
	all, err := store.ReadAll(ctx, eventstore.Position{}, 10)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, res.Position, all[0].Position)
	assert.JSONEq(t, `{"x":1}`, string(all[0].Data))
	_, err = store.ReadStream(ctx, "nope", 0, 0)
	assert.ErrorIs(t, err, eventstore.ErrStreamNotFound)
}
