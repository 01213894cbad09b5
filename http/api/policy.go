package api

import "github.com/apiq/apiq/http/auth"

// RoutePolicy is one route of the API with its declared access.
type RoutePolicy struct {
	Method string
	Path   string // gin syntax (":id")
	Access auth.Access
}

// Policy returns the declared access of every route the API serves, in
// the route table's order: the single source tests walk.
func Policy() []RoutePolicy {
	s := &server{}
	var out []RoutePolicy
	for _, r := range s.routes() {
		out = append(out, RoutePolicy{Method: r.method, Path: r.path, Access: r.access})
	}
	return out
}
