package user

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/apiq/apiq/domain"
)

// Role is what a user may do within a tenant.
type Role string

// Roles.
const (
	RoleUser    Role = "USER"
	RoleAdmin   Role = "ADMIN"
	RoleAuditor Role = "AUDITOR"
)

// ParseRole accepts USER, ADMIN or AUDITOR.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleUser, RoleAdmin, RoleAuditor:
		return r, nil
	}
	return "", domain.Invalid("role", "invalid_role", "role must be USER, ADMIN or AUDITOR")
}

// Password length bounds (bytes); the upper one keeps hashing cheap to refuse.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// ValidateEmail checks an email address and returns it trimmed.
func ValidateEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return "", domain.Invalid("email", "invalid_email", "email must be a plain address such as name@example.com")
	}
	return email, nil
}

// NormalizeEmail is the form emails are compared in: trimmed and lower-cased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateName checks a display name and returns it trimmed.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return "", domain.Invalid("name", "invalid_name", "name must have 1 to 200 characters")
	}
	return name, nil
}

// ValidatePassword checks a password's length.
func ValidatePassword(password string) error {
	if len(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return domain.Invalid("password", "invalid_password", "password must have 8 to 1024 bytes")
	}
	return nil
}

// ValidateTokenName checks an API token's name and returns it trimmed.
func ValidateTokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", domain.Invalid("name", "invalid_token_name", "token name must have 1 to 100 characters")
	}
	return name, nil
}
