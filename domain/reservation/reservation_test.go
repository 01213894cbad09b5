package reservation_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/reservation"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	held := reservation.Evolve(reservation.State{}, reservation.Reserved{Owner: "a"})
	released := reservation.Evolve(held, reservation.Released{Owner: "a"})
	tests := []struct {
		name    string
		state   reservation.State
		cmd     reservation.Command
		want    []domain.Event
		wantErr error
	}{
		{"reserve free", reservation.State{}, reservation.Reserve{Owner: "a"}, []domain.Event{reservation.Reserved{Owner: "a"}}, nil},
		{"reserve own again", held, reservation.Reserve{Owner: "a"}, nil, nil},
		{"reserve taken", held, reservation.Reserve{Owner: "b"}, nil, reservation.ErrTaken},
		{"reserve after release", released, reservation.Reserve{Owner: "b"}, []domain.Event{reservation.Reserved{Owner: "b"}}, nil},
		{"release own", held, reservation.Release{Owner: "a"}, []domain.Event{reservation.Released{Owner: "a"}}, nil},
		{"release other's", held, reservation.Release{Owner: "b"}, nil, nil},
		{"release free", released, reservation.Release{Owner: "a"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := reservation.Decide(tc.state, tc.cmd)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorIs(t, err, domain.ErrConflict)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
