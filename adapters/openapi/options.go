package openapi

import (
	"errors"
	"fmt"
)

// Defaults of Options.
const (
	// DefaultMaxBytes is the largest document Import accepts: 25 MiB.
	DefaultMaxBytes = 25 << 20
	// DefaultMaxSchemaDepth is how many levels of nested properties/items a catalogue schema keeps.
	DefaultMaxSchemaDepth = 6
	// DefaultMaxSchemaBytes caps the JSON size of one catalogue schema.
	DefaultMaxSchemaBytes = 32 << 10
	// DefaultMaxDescription caps the length (in runes) of each description copied into the catalogue.
	DefaultMaxDescription = 1000
	// DefaultMaxWarnings caps the warnings one import reports.
	DefaultMaxWarnings = 200
)

// Options tunes Import; the zero value means the defaults.
type Options struct {
	// MaxBytes is the size limit of the raw document (default DefaultMaxBytes).
	MaxBytes int64
	// MaxSchemaDepth limits nesting in catalogue schemas (default DefaultMaxSchemaDepth).
	MaxSchemaDepth int
	// MaxSchemaBytes limits the JSON size of each catalogue schema (default DefaultMaxSchemaBytes).
	MaxSchemaBytes int
	// MaxDescription limits each description in the catalogue, in runes (default DefaultMaxDescription).
	MaxDescription int
	// MaxWarnings limits the number of warnings reported (default DefaultMaxWarnings).
	MaxWarnings int
}

// setDefaults fills the zero fields with the defaults.
func (o *Options) setDefaults() {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxSchemaDepth == 0 {
		o.MaxSchemaDepth = DefaultMaxSchemaDepth
	}
	if o.MaxSchemaBytes == 0 {
		o.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	if o.MaxDescription == 0 {
		o.MaxDescription = DefaultMaxDescription
	}
	if o.MaxWarnings == 0 {
		o.MaxWarnings = DefaultMaxWarnings
	}
}

// Validate reports every out-of-range option at once.
func (o Options) Validate() error {
	var errs []error
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBytes must not be negative, got %d", o.MaxBytes))
	}
	if o.MaxSchemaDepth < 0 {
		errs = append(errs, fmt.Errorf("MaxSchemaDepth must not be negative, got %d", o.MaxSchemaDepth))
	}
	if o.MaxSchemaBytes < 0 || (o.MaxSchemaBytes > 0 && o.MaxSchemaBytes < minSchemaBytes) {
		errs = append(errs, fmt.Errorf("MaxSchemaBytes must be 0 (default) or at least %d, got %d", minSchemaBytes, o.MaxSchemaBytes))
	}
	if o.MaxDescription < 0 {
		errs = append(errs, fmt.Errorf("MaxDescription must not be negative, got %d", o.MaxDescription))
	}
	if o.MaxWarnings < 0 {
		errs = append(errs, fmt.Errorf("MaxWarnings must not be negative, got %d", o.MaxWarnings))
	}
	return errors.Join(errs...)
}

// minSchemaBytes leaves room for the truncation marker a schema may shrink to.
const minSchemaBytes = 256
