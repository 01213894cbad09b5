package plan

import (
	"strings"

	"github.com/apiq/apiq/adapters/openapi"
)

// Catalogue is the set of operations a plan may call: the tenant's, across
// its connections.
type Catalogue interface {
	// Operation returns the operation ref names, if the catalogue has it.
	Operation(ref OperationRef) (openapi.Operation, bool)
}

// Operations is a Catalogue held in a map.
type Operations map[OperationRef]openapi.Operation

// Operation returns the operation ref names, if the map has it.
func (o Operations) Operation(ref OperationRef) (openapi.Operation, bool) {
	op, ok := o[ref]
	return op, ok
}

// Add records the operations of one connection.
func (o Operations) Add(connectionID string, ops ...openapi.Operation) {
	for _, op := range ops {
		o[OperationRef{ConnectionID: connectionID, OperationID: op.OperationID}] = op
	}
}

// credentialNames are parameter names (lower case, without "-" and "_")
// that carry credentials: the engine supplies them from the connection,
// and neither a model nor a plan may.
var credentialNames = map[string]bool{
	"authorization": true, "proxyauthorization": true, "cookie": true,
	"apikey": true, "xapikey": true, "accesstoken": true, "xaccesstoken": true,
	"authtoken": true, "xauthtoken": true, "clientsecret": true, "xapitoken": true,
	"apitoken": true, "token": true, "secret": true, "password": true,
}

// IsCredentialParameter reports whether a parameter name is one that
// carries credentials ("Authorization", "api_key", "X-API-Key", ...).
func IsCredentialParameter(name string) bool {
	key := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' {
			return -1
		}
		return r
	}, strings.ToLower(name))
	return credentialNames[key]
}
