package user

// SSOIdentityStream names the reservation stream of a single sign-on
// identity (the blind index of tenant, issuer and subject): its owner is
// the user the identity signs in.
func SSOIdentityStream(identityIndex string) string { return "user-sso-" + identityIndex }

// SSOIdentityKey is the value whose blind index names an identity's
// reservation stream.
func SSOIdentityKey(issuer, subject string) string { return issuer + "\n" + subject }
