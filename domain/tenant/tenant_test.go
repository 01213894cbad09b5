package tenant_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/domain"
	"github.com/apiq/apiq/domain/tenant"
)

func fold(events ...domain.Event) tenant.State {
	var s tenant.State
	for _, ev := range events {
		s = tenant.Evolve(s, ev)
	}
	return s
}

func TestDecide(t *testing.T) {
	t.Parallel()
	created := tenant.Created{TenantID: "t1", Name: "Acme", Slug: "acme"}
	oneAdmin := fold(created, tenant.AdminBootstrapped{UserID: "a"})
	twoAdmins := fold(created, tenant.AdminBootstrapped{UserID: "a"}, tenant.AdminGranted{UserID: "b"})
	tests := []struct {
		name    string
		state   tenant.State
		cmd     tenant.Command
		want    []domain.Event
		wantErr error
	}{
		{"create", tenant.State{}, tenant.Create{TenantID: "t1", Name: " Acme ", Slug: "acme"}, []domain.Event{created}, nil},
		{"create twice", fold(created), tenant.Create{TenantID: "t1", Name: "Acme", Slug: "acme"}, nil, tenant.ErrAlreadyExists},
		{"bad slug", tenant.State{}, tenant.Create{TenantID: "t1", Name: "Acme", Slug: "Acme!"}, nil, domain.ErrInvalid},
		{"empty name", tenant.State{}, tenant.Create{TenantID: "t1", Name: " ", Slug: "acme"}, nil, domain.ErrInvalid},
		{"bootstrap", fold(created), tenant.BootstrapAdmin{UserID: "a"}, []domain.Event{tenant.AdminBootstrapped{UserID: "a"}}, nil},
		{"bootstrap retried", oneAdmin, tenant.BootstrapAdmin{UserID: "a"}, nil, nil},
		{"bootstrap another", oneAdmin, tenant.BootstrapAdmin{UserID: "b"}, nil, tenant.ErrAlreadyBootstrapped},
		{"bootstrap missing tenant", tenant.State{}, tenant.BootstrapAdmin{UserID: "a"}, nil, tenant.ErrNotFound},
		{"grant", oneAdmin, tenant.GrantAdmin{UserID: "b"}, []domain.Event{tenant.AdminGranted{UserID: "b"}}, nil},
		{"grant twice", twoAdmins, tenant.GrantAdmin{UserID: "b"}, nil, nil},
		{"revoke one of two", twoAdmins, tenant.RevokeAdmin{UserID: "a"}, []domain.Event{tenant.AdminRevoked{UserID: "a"}}, nil},
		{"revoke the last", oneAdmin, tenant.RevokeAdmin{UserID: "a"}, nil, tenant.ErrLastAdmin},
		{"revoke a non-admin", oneAdmin, tenant.RevokeAdmin{UserID: "z"}, nil, nil},
		{"revoke with empty roster", fold(created), tenant.RevokeAdmin{UserID: "z"}, nil, tenant.ErrLastAdmin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tenant.Decide(tc.state, tc.cmd)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestLastAdminIsAConflict(t *testing.T) {
	t.Parallel()
	assert.ErrorIs(t, tenant.ErrLastAdmin, domain.ErrConflict)
	var de *domain.Error
	require.ErrorAs(t, error(tenant.ErrLastAdmin), &de)
	assert.Equal(t, "last_admin", de.Code)
}

func TestEvolveKeepsEarlierStates(t *testing.T) {
	t.Parallel()
	s1 := fold(tenant.Created{TenantID: "t1"}, tenant.AdminBootstrapped{UserID: "a"})
	s2 := tenant.Evolve(s1, tenant.AdminRevoked{UserID: "a"})
	assert.True(t, s1.Admins["a"])
	assert.False(t, s2.Admins["a"])
}

func TestSecuritySettings(t *testing.T) {
	t.Parallel()
	created := fold(tenant.Created{TenantID: "t1", Name: "Acme", Slug: "acme"})
	required := tenant.Evolve(created, tenant.SecurityChanged{TOTPRequired: true})
	tests := []struct {
		name    string
		state   tenant.State
		cmd     tenant.SetSecurity
		want    []domain.Event
		wantErr error
	}{
		{"require", created, tenant.SetSecurity{TOTPRequired: true}, []domain.Event{tenant.SecurityChanged{TOTPRequired: true}}, nil},
		{"require again", required, tenant.SetSecurity{TOTPRequired: true}, nil, nil},
		{"relax", required, tenant.SetSecurity{}, []domain.Event{tenant.SecurityChanged{}}, nil},
		{"missing tenant", tenant.State{}, tenant.SetSecurity{TOTPRequired: true}, nil, tenant.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tenant.Decide(tc.state, tc.cmd)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	assert.True(t, required.TOTPRequired)
	assert.False(t, created.TOTPRequired)
}
