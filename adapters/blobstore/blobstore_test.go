package blobstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/blobstore"
	"github.com/apiq/apiq/adapters/postgres/pgtest"
)

func TestPutGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := blobstore.New(pgtest.NewPool(t))
	require.NoError(t, err)

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("openapi: 3.0.0\n")},
		{"binary", []byte{0, 1, 2, 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := store.Put(ctx, "application/octet-stream", tt.data)
			require.NoError(t, err)
			assert.Equal(t, blobstore.Hash(tt.data), h)
			again, err := store.Put(ctx, "application/octet-stream", tt.data)
			require.NoError(t, err, "storing the same content twice is a no-op")
			assert.Equal(t, h, again)
			got, err := store.Get(ctx, h)
			require.NoError(t, err)
			assert.Equal(t, tt.data, got)
		})
	}

	_, err = store.Get(ctx, blobstore.Hash([]byte("never stored")))
	assert.ErrorIs(t, err, blobstore.ErrNotFound)
}
