package tools

import (
	"errors"
	"fmt"
	"sync"

	"github.com/sashabaranov/go-openai"

	"github.com/apiq/apiq/adapters/openapi"
	"github.com/apiq/apiq/domain/plan"
)

// MaxToolsPerRequest is the most tools one chat completions request may
// offer (the API's limit).
const MaxToolsPerRequest = 128

// Defaults of Options.
const (
	// DefaultMaxToolBytes caps the JSON of one tool (name, description, parameters).
	DefaultMaxToolBytes = 8 << 10
	// DefaultMaxDescription caps a tool's description, in runes.
	DefaultMaxDescription = 300
	// DefaultMaxPropertyDescription caps each argument's description, in runes.
	DefaultMaxPropertyDescription = 160
)

// ErrTooManyTools refuses a request for more than MaxToolsPerRequest tools.
var ErrTooManyTools = errors.New("too many tools")

// ErrUnknownOperation refuses a tool for an operation the set does not hold.
var ErrUnknownOperation = errors.New("unknown operation")

// Endpoint is a catalogue operation with the connection it belongs to.
type Endpoint struct {
	ConnectionID string
	// ConnectionName makes tool names readable ("tmdb__search_movie").
	ConnectionName string
	Operation      openapi.Operation
}

// Ref identifies the endpoint's operation.
func (e Endpoint) Ref() plan.OperationRef {
	return plan.OperationRef{ConnectionID: e.ConnectionID, OperationID: e.Operation.OperationID}
}

// Options shape the tools of a Set.
type Options struct {
	// MaxToolBytes caps one tool's JSON (default DefaultMaxToolBytes).
	MaxToolBytes int
	// MaxDescription caps a tool's description in runes (default DefaultMaxDescription).
	MaxDescription int
	// MaxPropertyDescription caps an argument's description in runes
	// (default DefaultMaxPropertyDescription).
	MaxPropertyDescription int
}

func (o *Options) setDefaults() {
	if o.MaxToolBytes == 0 {
		o.MaxToolBytes = DefaultMaxToolBytes
	}
	if o.MaxDescription == 0 {
		o.MaxDescription = DefaultMaxDescription
	}
	if o.MaxPropertyDescription == 0 {
		o.MaxPropertyDescription = DefaultMaxPropertyDescription
	}
}

// Validate reports every option out of range (zero values take defaults).
func (o Options) Validate() error {
	var errs []error
	if o.MaxToolBytes != 0 && o.MaxToolBytes < 1024 {
		errs = append(errs, fmt.Errorf("MaxToolBytes %d is below 1024", o.MaxToolBytes))
	}
	if o.MaxDescription < 0 {
		errs = append(errs, fmt.Errorf("MaxDescription %d is negative", o.MaxDescription))
	}
	if o.MaxPropertyDescription < 0 {
		errs = append(errs, fmt.Errorf("MaxPropertyDescription %d is negative", o.MaxPropertyDescription))
	}
	return errors.Join(errs...)
}

// Set names a catalogue's operations as tools and maps names back. Names
// are unique within the set and depend only on the endpoints it was built
// from. A Set keeps the tools it builds (a planner may keep a set per
// catalogue version); it is safe for concurrent use, and the tools it
// returns must not be modified.
type Set struct {
	opts      Options
	endpoints []Endpoint
	names     []string
	byName    map[string]int
	byRef     map[plan.OperationRef]int

	mu    sync.Mutex
	built map[int]openai.Tool // tools rendered so far (immutable once built)
}

// NewSet names the endpoints (typically all of a tenant's operations; the
// tools themselves are built on demand for the few a request offers).
func NewSet(endpoints []Endpoint, opts Options) (*Set, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("tool set options: %w", err)
	}
	opts.setDefaults()
	s := &Set{
		opts:      opts,
		endpoints: endpoints,
		byName:    make(map[string]int, len(endpoints)),
		byRef:     make(map[plan.OperationRef]int, len(endpoints)),
		built:     map[int]openai.Tool{},
	}
	for i, e := range endpoints {
		ref := e.Ref()
		if ref.ConnectionID == "" {
			return nil, fmt.Errorf("tool set: endpoint %d (%s) has no connection id", i, e.Operation.Key())
		}
		if _, dup := s.byRef[ref]; dup {
			return nil, fmt.Errorf("tool set: operation %q of connection %q is given twice", ref.OperationID, ref.ConnectionID)
		}
		s.byRef[ref] = i
	}
	names, err := assignNames(endpoints)
	if err != nil {
		return nil, fmt.Errorf("tool set: %w", err)
	}
	s.names = names
	for i, name := range names {
		s.byName[name] = i
	}
	return s, nil
}

// Len returns the number of endpoints in the set.
func (s *Set) Len() int { return len(s.endpoints) }

// Refs lists the set's operations in the order given to NewSet.
func (s *Set) Refs() []plan.OperationRef {
	out := make([]plan.OperationRef, len(s.endpoints))
	for i, e := range s.endpoints {
		out[i] = e.Ref()
	}
	return out
}

// Name returns the tool name of an operation.
func (s *Set) Name(ref plan.OperationRef) (string, bool) {
	i, ok := s.byRef[ref]
	if !ok {
		return "", false
	}
	return s.names[i], true
}

// Lookup maps a tool name back to its operation.
func (s *Set) Lookup(name string) (plan.OperationRef, bool) {
	i, ok := s.byName[name]
	if !ok {
		return plan.OperationRef{}, false
	}
	return s.endpoints[i].Ref(), true
}

// Endpoint returns the endpoint of an operation.
func (s *Set) Endpoint(ref plan.OperationRef) (Endpoint, bool) {
	i, ok := s.byRef[ref]
	if !ok {
		return Endpoint{}, false
	}
	return s.endpoints[i], true
}

// Operation implements plan.Catalogue over the set's endpoints.
func (s *Set) Operation(ref plan.OperationRef) (openapi.Operation, bool) {
	i, ok := s.byRef[ref]
	if !ok {
		return openapi.Operation{}, false
	}
	return s.endpoints[i].Operation, true
}

var _ plan.Catalogue = (*Set)(nil)
