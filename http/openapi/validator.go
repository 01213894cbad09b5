package openapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/apierror"
)

// Problem is one reason a request failed validation, as listed in the
// details of a validation_failed error.
type Problem struct {
	// In is where the problem is: body, query, path or header.
	In string `json:"in"`
	// Field is a JSON pointer into the body, or the parameter's name.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Validator checks requests against the document's operation for the gin
// route that matched them, so no second router is needed.
type Validator struct {
	routes  map[Operation]*routers.Route
	options *openapi3filter.Options
}

// NewValidator prepares a validator for every operation of doc.
func NewValidator(doc *Document) *Validator {
	routes := make(map[Operation]*routers.Route)
	for path, item := range doc.spec.Paths.Map() {
		for method, op := range item.Operations() {
			routes[Operation{Method: strings.ToUpper(method), Path: path}] = &routers.Route{
				Spec: doc.spec, Path: path, PathItem: item, Method: strings.ToUpper(method), Operation: op,
			}
		}
	}
	return &Validator{
		routes: routes,
		options: &openapi3filter.Options{
			MultiError: true,
			// Authentication is the auth middleware's job; the document's
			// security section is documentation here.
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
			RejectWhenRequestBodyNotSpecified: true,
			SkipSettingDefaults:               true,
			SchemaValidationOptions:           doc.spec.GetSchemaValidationOptions(),
		},
	}
}

// Middleware validates each request against its operation and aborts with
// 400 validation_failed (413 payload_too_large, 415 unsupported_media_type)
// listing every problem found.
func (v *Validator) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		op := Operation{Method: c.Request.Method, Path: GinPathToOpenAPI(c.FullPath())}
		route, ok := v.routes[op]
		if !ok {
			apierror.Abort(c, apierror.New(http.StatusInternalServerError, apierror.CodeInternal, "internal error").
				Wrap(fmt.Errorf("route %s %s is not in the openapi document", op.Method, op.Path)))
			return
		}
		params := make(map[string]string, len(c.Params))
		for _, p := range c.Params {
			params[p.Key] = p.Value
		}
		err := openapi3filter.ValidateRequest(c.Request.Context(), &openapi3filter.RequestValidationInput{
			Request: c.Request, PathParams: params, Route: route, Options: v.options,
		})
		if err != nil {
			apierror.Abort(c, validationError(err))
			return
		}
		c.Next()
	}
}

// validationError converts openapi3filter's error tree into an API error.
func validationError(err error) *apierror.Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return apierror.ErrPayloadTooLarge.WithDetails(map[string]int64{"limit_bytes": tooLarge.Limit})
	}
	var problems []Problem
	unsupportedMedia := false
	collectProblems(err, &problems, &unsupportedMedia)
	if unsupportedMedia && len(problems) == 1 {
		return apierror.New(http.StatusUnsupportedMediaType, apierror.CodeUnsupportedMedia,
			"unsupported content type").WithDetails(problems)
	}
	return apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed,
		"the request does not match the API description").WithDetails(problems)
}

func collectProblems(err error, out *[]Problem, unsupportedMedia *bool) {
	var multi openapi3.MultiError
	if errors.As(err, &multi) && isMulti(err) {
		for _, e := range multi {
			collectProblems(e, out, unsupportedMedia)
		}
		return
	}
	var reqErr *openapi3filter.RequestError
	if !errors.As(err, &reqErr) {
		*out = append(*out, Problem{In: "request", Message: err.Error()})
		return
	}
	in, field := "body", ""
	if reqErr.Parameter != nil {
		in, field = reqErr.Parameter.In, reqErr.Parameter.Name
	}
	var schemaErrs []*openapi3.SchemaError
	collectSchemaErrors(reqErr.Err, &schemaErrs)
	if len(schemaErrs) == 0 {
		msg := reqErr.Error()
		if reqErr.Parameter == nil {
			if strings.Contains(reqErr.Reason, "header Content-Type has unexpected value") {
				*unsupportedMedia = true
			}
			msg = bodyMessage(reqErr)
		}
		*out = append(*out, Problem{In: in, Field: field, Message: msg})
		return
	}
	for _, se := range schemaErrs {
		p := Problem{In: in, Field: field, Message: se.Reason}
		if in == "body" {
			p.Field = schemaErrorPointer(se)
		}
		if p.Message == "" {
			p.Message = fmt.Sprintf("does not match schema %q", se.SchemaField)
		}
		*out = append(*out, p)
	}
}

// isMulti reports whether err itself (not a wrapped cause) is a MultiError.
func isMulti(err error) bool {
	_, ok := err.(openapi3.MultiError)
	return ok
}

func collectSchemaErrors(err error, out *[]*openapi3.SchemaError) {
	if err == nil {
		return
	}
	if multi, ok := err.(openapi3.MultiError); ok {
		for _, e := range multi {
			collectSchemaErrors(e, out)
		}
		return
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		*out = append(*out, se)
	}
}

// schemaErrorPointer locates a body problem as a JSON pointer, pointing at
// the offending property for unknown ones.
func schemaErrorPointer(se *openapi3.SchemaError) string {
	pointer := "/" + strings.Join(se.JSONPointer(), "/")
	if se.SchemaField == "properties" && strings.HasSuffix(se.Reason, " is unsupported") {
		quoted := strings.TrimSuffix(strings.TrimPrefix(se.Reason, "property "), " is unsupported")
		if name, err := strconv.Unquote(quoted); err == nil {
			pointer = strings.TrimSuffix(pointer, "/") + "/" + name
		}
	}
	return pointer
}

// bodyMessage describes a body problem without echoing the body.
func bodyMessage(reqErr *openapi3filter.RequestError) string {
	switch {
	case errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired):
		return "a request body is required"
	case reqErr.Reason == "failed to decode request body":
		return "the body is not valid JSON"
	case reqErr.Reason != "":
		return reqErr.Reason
	}
	return reqErr.Error()
}
