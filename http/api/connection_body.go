package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/apierror"
)

// maxFieldBytes bounds each form field of a multipart upload but the document.
const maxFieldBytes = 64 << 10

// documentBody is a connection request carrying a document: the JSON body
// of POST /v1/connections and PUT /v1/connections/{id}/document, or the
// same fields as multipart/form-data (the document as a file part, auth as
// a JSON string field).
type documentBody struct {
	Name        string          `json:"name"`
	BaseURL     string          `json:"base_url"`
	Document    json.RawMessage `json:"document"`
	DocumentURL string          `json:"document_url"`
	Auth        *AuthInput      `json:"auth"`
	// text is the document's text, from Document or the file part.
	text []byte
}

// readDocumentBody reads a JSON or multipart body; fields names the form
// fields the route accepts besides the document. It aborts with the error
// response and returns false when the body cannot be read.
func (s *server) readDocumentBody(c *gin.Context, fields ...string) (documentBody, bool) {
	mediaType, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err == nil && mediaType == "multipart/form-data" {
		return s.readMultipart(c, params["boundary"], fields)
	}
	var body documentBody
	if !decode(c, &body) {
		return body, false
	}
	text, err := documentText(body.Document)
	if err != nil {
		apierror.Abort(c, bodyError("/document", err.Error()))
		return body, false
	}
	body.text = text
	return body, true
}

// decodeOptional decodes a JSON body the route may also go without.
func decodeOptional(c *gin.Context, v any) bool {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			apierror.Abort(c, apierror.ErrPayloadTooLarge)
			return false
		}
		apierror.Abort(c, bodyError("", "the body could not be read"))
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return decode(c, v)
}

// documentText accepts the document as a JSON string holding its text
// (JSON or YAML) or as a JSON object (the document itself).
func documentText(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, nil
	case raw[0] == '{':
		return raw, nil
	case raw[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, errors.New("document is not a valid JSON string")
		}
		return []byte(text), nil
	}
	return nil, errors.New("document must be the document's text (a string) or the document as a JSON object")
}

// readMultipart reads the form's parts in one pass; the document part may
// be a file or a plain field.
func (s *server) readMultipart(c *gin.Context, boundary string, fields []string) (documentBody, bool) {
	var body documentBody
	if boundary == "" {
		apierror.Abort(c, bodyError("", "multipart/form-data needs a boundary"))
		return body, false
	}
	seen := map[string]bool{}
	reader := multipart.NewReader(c.Request.Body, boundary)
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.abortRead(c, err)
			return body, false
		}
		name := part.FormName()
		if seen[name] {
			apierror.Abort(c, bodyError("/"+name, "the form has this field twice"))
			return body, false
		}
		seen[name] = true
		limit := int64(maxFieldBytes)
		if name == "document" {
			limit = s.cfg.MaxDocumentBytes
		}
		value, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			s.abortRead(c, err)
			return body, false
		}
		if int64(len(value)) > limit {
			if name == "document" {
				apierror.Abort(c, documentTooLarge(s.cfg.MaxDocumentBytes))
				return body, false
			}
			apierror.Abort(c, bodyError("/"+name, fmt.Sprintf("the field is longer than %d bytes", maxFieldBytes)))
			return body, false
		}
		switch name {
		case "document":
			body.text = value
		case "name":
			body.Name = trimmed(string(value))
		case "base_url":
			body.BaseURL = trimmed(string(value))
		case "document_url":
			body.DocumentURL = trimmed(string(value))
		case "auth":
			var auth AuthInput
			dec := json.NewDecoder(bytes.NewReader(value))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&auth); err != nil {
				apierror.Abort(c, bodyError("/auth", "auth must be a JSON object of the documented fields"))
				return body, false
			}
			body.Auth = &auth
		default:
			apierror.Abort(c, bodyError("/"+name, "unknown field"))
			return body, false
		}
		if name != "document" && !accepts(fields, name) {
			apierror.Abort(c, bodyError("/"+name, "unknown field"))
			return body, false
		}
	}
	return body, true
}

func accepts(fields []string, name string) bool {
	for _, f := range fields {
		if f == name {
			return true
		}
	}
	return false
}

// abortRead answers a body that could not be read: too large, or malformed.
func (s *server) abortRead(c *gin.Context, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		apierror.Abort(c, apierror.ErrPayloadTooLarge.WithDetails(map[string]int64{"limit_bytes": tooLarge.Limit}))
		return
	}
	apierror.Abort(c, bodyError("", "the multipart body is malformed"))
}

// bodyError is a validation failure of one body field (a JSON pointer).
func bodyError(field, message string) *apierror.Error {
	p := map[string]string{"in": "body", "message": message}
	if field != "" {
		p["field"] = field
	}
	return apierror.New(http.StatusBadRequest, apierror.CodeValidationFailed, "invalid request body").
		WithDetails([]map[string]string{p})
}

// documentTooLarge is the 413 of a document over APIQ_MAX_DOCUMENT_BYTES.
func documentTooLarge(limit int64) *apierror.Error {
	return apierror.New(http.StatusRequestEntityTooLarge, apierror.CodePayloadTooLarge,
		fmt.Sprintf("the document is larger than the limit of %d bytes", limit)).
		WithDetails(map[string]int64{"limit_bytes": limit})
}

// trimmed is s without surrounding space (form fields often end in a newline).
func trimmed(s string) string { return strings.TrimSpace(s) }
