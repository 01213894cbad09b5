// Package tenant is the tenant aggregate: a tenant's name and slug, and the
// roster of its active ADMINs, which guards against removing the last one.
package tenant

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/domain"
)

// Stream is the event stream of a tenant.
func Stream(tenantID string) string { return "tenant-" + tenantID }

// SlugReservationStream is the reservation stream that keeps slugs unique.
func SlugReservationStream(slug string) string { return "tenant-slug-" + slug }

// Errors of the tenant aggregate.
var (
	ErrNotFound            = domain.NewError(domain.ErrNotFound, "tenant_not_found", "tenant not found")
	ErrAlreadyExists       = domain.NewError(domain.ErrConflict, "tenant_exists", "tenant already exists")
	ErrSlugTaken           = domain.NewError(domain.ErrConflict, "slug_taken", "a tenant with this slug already exists")
	ErrAlreadyBootstrapped = domain.NewError(domain.ErrConflict, "admin_already_bootstrapped", "the tenant already has its first admin")
	ErrLastAdmin           = domain.NewError(domain.ErrConflict, "last_admin", "the last active ADMIN of a tenant cannot be demoted, disabled or deleted")
)

// State is a tenant folded from its events.
type State struct {
	Exists       bool
	ID           string
	Name         string
	Slug         string
	Bootstrapped string // user id of the first admin
	// Admins holds the active ADMINs. It may lag behind the users (a
	// multi-stream change interrupted mid-way) but never lists someone who
	// is not an active ADMIN: grants are recorded after the user's change,
	// revocations before it.
	Admins map[string]bool
	// TOTPRequired makes every password user of the tenant use TOTP.
	TOTPRequired bool
}

// Command is one of the tenant commands below.
type Command interface{ isTenantCommand() }

// Create creates the tenant.
type Create struct {
	TenantID string
	Name     string
	Slug     string
}

// BootstrapAdmin records the tenant's first ADMIN.
type BootstrapAdmin struct{ UserID string }

// GrantAdmin adds an active ADMIN to the roster.
type GrantAdmin struct{ UserID string }

// RevokeAdmin removes an active ADMIN from the roster, refusing the last one.
type RevokeAdmin struct{ UserID string }

// SetSecurity changes the tenant's security settings (ADMINs).
type SetSecurity struct{ TOTPRequired bool }

func (SetSecurity) isTenantCommand()    {}
func (Create) isTenantCommand()         {}
func (BootstrapAdmin) isTenantCommand() {}
func (GrantAdmin) isTenantCommand()     {}
func (RevokeAdmin) isTenantCommand()    {}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateName checks a tenant name and returns it trimmed.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return "", domain.Invalid("name", "invalid_name", "name must have 1 to 200 characters")
	}
	return name, nil
}

// ValidateSlug checks a slug: lower-case letters, digits and inner hyphens, at most 63 characters.
func ValidateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return domain.Invalid("slug", "invalid_slug", "slug must be 1 to 63 lower-case letters, digits or inner hyphens")
	}
	return nil
}

// Decide returns the events a command produces in state s.
func Decide(s State, cmd Command) ([]domain.Event, error) {
	switch c := cmd.(type) {
	case Create:
		if s.Exists {
			return nil, ErrAlreadyExists
		}
		name, err := ValidateName(c.Name)
		if err != nil {
			return nil, err
		}
		if err := ValidateSlug(c.Slug); err != nil {
			return nil, err
		}
		if c.TenantID == "" {
			return nil, domain.Invalid("tenant_id", "invalid_tenant_id", "tenant id is required")
		}
		return []domain.Event{Created{TenantID: c.TenantID, Name: name, Slug: c.Slug}}, nil
	case BootstrapAdmin:
		if !s.Exists {
			return nil, ErrNotFound
		}
		switch s.Bootstrapped {
		case "":
			return []domain.Event{AdminBootstrapped(c)}, nil
		case c.UserID:
			return nil, nil
		}
		return nil, ErrAlreadyBootstrapped
	case GrantAdmin:
		if !s.Exists {
			return nil, ErrNotFound
		}
		if s.Admins[c.UserID] {
			return nil, nil
		}
		return []domain.Event{AdminGranted(c)}, nil
	case RevokeAdmin:
		if !s.Exists {
			return nil, ErrNotFound
		}
		if !s.Admins[c.UserID] {
			// Not on the roster (it may lag): allowed only while someone else is.
			if len(s.Admins) == 0 {
				return nil, ErrLastAdmin
			}
			return nil, nil
		}
		if len(s.Admins) == 1 {
			return nil, ErrLastAdmin
		}
		return []domain.Event{AdminRevoked(c)}, nil
	case SetSecurity:
		if !s.Exists {
			return nil, ErrNotFound
		}
		if s.TOTPRequired == c.TOTPRequired {
			return nil, nil
		}
		return []domain.Event{SecurityChanged(c)}, nil
	}
	return nil, domain.Invalid("", "unknown_command", "unknown tenant command")
}

// Evolve folds one event into the state without changing s.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Created:
		return State{Exists: true, ID: e.TenantID, Name: e.Name, Slug: e.Slug, Admins: map[string]bool{}}
	case AdminBootstrapped:
		s.Bootstrapped = e.UserID
		s.Admins = withAdmin(s.Admins, e.UserID, true)
	case AdminGranted:
		s.Admins = withAdmin(s.Admins, e.UserID, true)
	case AdminRevoked:
		s.Admins = withAdmin(s.Admins, e.UserID, false)
	case SecurityChanged:
		s.TOTPRequired = e.TOTPRequired
	}
	return s
}

func withAdmin(admins map[string]bool, userID string, active bool) map[string]bool {
	out := make(map[string]bool, len(admins)+1)
	for id := range admins {
		out[id] = true
	}
	if active {
		out[userID] = true
	} else {
		delete(out, userID)
	}
	return out
}
