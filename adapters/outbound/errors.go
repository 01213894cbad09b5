package outbound

import (
	"errors"
	"fmt"
)

var (
	// ErrBlockedAddress means the destination resolved to (or was written as)
	// an address the caller refuses to dial; *BlockedAddressError has the details.
	ErrBlockedAddress = errors.New("blocked address")
	// ErrResponseTooLarge means the response body exceeded the configured cap;
	// the Result holds the capped body, flagged as truncated.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrRequestTooLarge means the request body exceeded the configured cap.
	ErrRequestTooLarge = errors.New("request too large")
	// ErrCircuitOpen means the key's circuit breaker refuses calls for now.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrRateLimited means waiting for the key's rate limit would outlast the
	// call's deadline.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooManyRedirects means an attempt met more redirects than allowed.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrForbiddenURL means the URL (or a redirect target) uses a scheme other
	// than http/https, carries user info, or has no host.
	ErrForbiddenURL = errors.New("forbidden url")
	// ErrTimeout means an attempt or the whole call ran out of time.
	ErrTimeout = errors.New("timeout")
)

// BlockedAddressError names the address that was refused and why.
type BlockedAddressError struct {
	// Address is the refused destination: "ip:port" at dial time, or the host
	// as written when it was refused before resolution.
	Address string
	// Reason says which rule refused it.
	Reason string
}

// Error describes the refusal.
func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("blocked address %s: %s", e.Address, e.Reason)
}

// Unwrap lets errors.Is match ErrBlockedAddress.
func (e *BlockedAddressError) Unwrap() error { return ErrBlockedAddress }
