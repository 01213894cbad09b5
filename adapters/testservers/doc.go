// Package testservers starts the real third-party servers APIQ's tests call
// (TESTING.md): go-httpbin in process, and json-server and Stoplight Prism as
// Node.js processes installed by `make test` into deploy/testservers. Every
// server binds to 127.0.0.1 on a free port, is ready when its helper returns
// and stops when the test ends. It also finds the shared real-world OpenAPI
// documents (shared/specs) from any package. Only tests import it.
package testservers
