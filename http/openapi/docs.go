package openapi

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// ReferencePage renders the document as a self-contained HTML page (no
// scripts, fonts or styles from elsewhere), served at /docs.
func (d *Document) ReferencePage() ([]byte, error) {
	var buf bytes.Buffer
	if err := referenceTemplate.Execute(&buf, d.referenceView()); err != nil {
		return nil, fmt.Errorf("render reference page: %w", err)
	}
	return buf.Bytes(), nil
}

type referenceView struct {
	Title, Version string
	Description    string
	Groups         []tagGroup
}

type tagGroup struct {
	Name, Description string
	Operations        []operationView
}

type operationView struct {
	Method, Path, Summary, Description, ID string
	Public                                 bool
	Parameters                             []parameterView
	Body                                   []fieldView
	Responses                              []responseView
}

type parameterView struct {
	Name, In, Type, Description string
	Required                    bool
}

type responseView struct {
	Status, Description string
	Fields              []fieldView
}

// fieldView is one line of a flattened schema: a property at some depth.
type fieldView struct {
	Depth       int
	Name, Type  string
	Required    bool
	Description string
}

func (d *Document) referenceView() referenceView {
	spec := d.spec
	view := referenceView{Title: spec.Info.Title, Version: spec.Info.Version, Description: spec.Info.Description}
	groups := map[string]*tagGroup{}
	var order []string
	for _, t := range spec.Tags {
		groups[t.Name] = &tagGroup{Name: t.Name, Description: t.Description}
		order = append(order, t.Name)
	}
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := spec.Paths.Value(path)
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if groups[tag] == nil {
				groups[tag] = &tagGroup{Name: tag}
				order = append(order, tag)
			}
			groups[tag].Operations = append(groups[tag].Operations, operationViewOf(spec, method, path, item, op))
		}
	}
	for _, name := range order {
		if len(groups[name].Operations) > 0 {
			view.Groups = append(view.Groups, *groups[name])
		}
	}
	return view
}

func operationViewOf(spec *openapi3.T, method, path string, item *openapi3.PathItem, op *openapi3.Operation) operationView {
	security := spec.Security
	if op.Security != nil {
		security = *op.Security
	}
	v := operationView{Method: method, Path: path, Summary: op.Summary, Description: op.Description,
		ID: op.OperationID, Public: len(security) == 0}
	for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range params {
			pv := parameterView{Name: p.Value.Name, In: p.Value.In, Required: p.Value.Required, Description: p.Value.Description}
			if p.Value.Schema != nil {
				pv.Type = typeOf(p.Value.Schema)
			}
			v.Parameters = append(v.Parameters, pv)
		}
	}
	if op.RequestBody != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			v.Body = flatten(mt.Schema, 0, nil)
		}
	}
	codes := make([]string, 0, op.Responses.Len())
	for code := range op.Responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		resp := op.Responses.Value(code).Value
		rv := responseView{Status: code}
		if resp.Description != nil {
			rv.Description = *resp.Description
		}
		if mt := resp.Content.Get("application/json"); mt != nil && mt.Schema != nil && strings.HasPrefix(code, "2") {
			rv.Fields = flatten(mt.Schema, 0, nil)
		}
		v.Responses = append(v.Responses, rv)
	}
	return v
}

// flatten lists the properties of an object schema, nested objects and
// arrays of objects indented below their property; seen stops recursion.
func flatten(ref *openapi3.SchemaRef, depth int, seen []*openapi3.Schema) []fieldView {
	s := ref.Value
	if s == nil || depth > 4 {
		return nil
	}
	for _, old := range seen {
		if old == s {
			return nil
		}
	}
	seen = append(seen, s)
	if s.Items != nil && s.Type.Is("array") {
		return flatten(s.Items, depth, seen)
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	var fields []fieldView
	for _, name := range names {
		prop := s.Properties[name]
		fields = append(fields, fieldView{Depth: depth, Name: name, Type: typeOf(prop),
			Required: required[name], Description: prop.Value.Description})
		fields = append(fields, flatten(prop, depth+1, seen)...)
	}
	return fields
}

// typeOf summarises a schema in a few words: type, format, enum, bounds.
func typeOf(ref *openapi3.SchemaRef) string {
	s := ref.Value
	if s == nil {
		return ""
	}
	var parts []string
	switch {
	case s.Type == nil || len(*s.Type) == 0:
		parts = append(parts, "any")
	case s.Type.Is("array") && s.Items != nil:
		parts = append(parts, "array of "+typeOf(s.Items))
	default:
		parts = append(parts, strings.Join(*s.Type, "|"))
	}
	if s.Format != "" {
		parts = append(parts, "("+s.Format+")")
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = fmt.Sprint(e)
		}
		parts = append(parts, "one of "+strings.Join(vals, ", "))
	}
	if s.MinLength > 0 || s.MaxLength != nil {
		max := "∞"
		if s.MaxLength != nil {
			max = fmt.Sprint(*s.MaxLength)
		}
		parts = append(parts, fmt.Sprintf("length %d–%s", s.MinLength, max))
	}
	if s.Min != nil || s.Max != nil {
		lo, hi := "-∞", "∞"
		if s.Min != nil {
			lo = fmt.Sprint(*s.Min)
		}
		if s.Max != nil {
			hi = fmt.Sprint(*s.Max)
		}
		parts = append(parts, "range "+lo+"–"+hi)
	}
	return strings.Join(parts, " ")
}

var referenceTemplate = template.Must(template.New("reference").Funcs(template.FuncMap{
	"lower":  strings.ToLower,
	"indent": func(depth int) string { return fmt.Sprintf("%dem", depth*2) },
	"anchor": func(method, path string) string {
		return strings.ToLower(method) + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(path)
	},
}).Parse(referenceHTML))

const referenceHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} API reference</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f7f8fa}
header{background:#1d2330;color:#fff;padding:1.2em 2em}header h1{margin:0;font-size:1.5em}
header p{margin:.3em 0 0;color:#c3c9d6}main{display:flex;gap:2em;padding:1.5em 2em}
nav{min-width:15em;position:sticky;top:1em;align-self:flex-start}nav a{display:block;color:#1d2330;text-decoration:none;font-size:.9em;padding:.1em 0}
nav h3{margin:1em 0 .3em;text-transform:uppercase;font-size:.75em;color:#6b7385}
section.op{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:0 0 1.2em;padding:1em 1.3em}
.method{display:inline-block;min-width:4.5em;text-align:center;font-weight:700;border-radius:4px;color:#fff;padding:.1em .4em;margin-right:.6em;font-size:.85em}
.get{background:#2f7d4f}.post{background:#2a62b8}.patch{background:#a8661a}.delete{background:#b53737}.put{background:#6a3fb0}
code,.path{font-family:ui-monospace,Menlo,Consolas,monospace}.path{font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4em 0 .8em;font-size:.9em}th,td{text-align:left;border-bottom:1px solid #eef0f4;padding:.25em .5em;vertical-align:top}
th{color:#6b7385;font-weight:600}.req{color:#b53737;font-size:.8em}.badge{font-size:.75em;border:1px solid #9aa3b5;border-radius:3px;padding:0 .3em;color:#6b7385;margin-left:.5em}
h2{margin:1.2em 0 .5em}h4{margin:.8em 0 .2em;font-size:.9em;color:#3c4458}.desc{white-space:pre-line}
</style></head><body>
<header><h1>{{.Title}} <small>{{.Version}}</small></h1><p class="desc">{{.Description}}</p>
<p>Machine-readable document: <a style="color:#9cc3ff" href="/openapi.json">/openapi.json</a></p></header>
<main><nav>{{range .Groups}}<h3>{{.Name}}</h3>{{range .Operations}}<a href="#{{anchor .Method .Path}}"><code>{{.Method}}</code> {{.Path}}</a>{{end}}{{end}}</nav>
<div>{{range .Groups}}<h2>{{.Name}}</h2>{{if .Description}}<p>{{.Description}}</p>{{end}}
{{range .Operations}}<section class="op" id="{{anchor .Method .Path}}">
<div><span class="method {{lower .Method}}">{{.Method}}</span><span class="path">{{.Path}}</span>{{if .Public}}<span class="badge">no authentication</span>{{else}}<span class="badge">bearer token</span>{{end}}</div>
<p><strong>{{.Summary}}</strong></p>{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
{{if .Parameters}}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Parameters}}<tr><td><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.In}}</td><td>{{.Type}}</td><td class="desc">{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<h4>Request body (application/json)</h4><table><tr><th>field</th><th>type</th><th>description</th></tr>
{{range .Body}}<tr><td style="padding-left:{{indent .Depth}}"><code>{{.Name}}</code>{{if .Required}} <span class="req">required</span>{{end}}</td><td>{{.Type}}</td><td class="desc">{{.Description}}</td></tr>{{end}}</table>{{end}}
<h4>Responses</h4><table><tr><th>status</th><th>description</th></tr>
{{range .Responses}}<tr><td><code>{{.Status}}</code></td><td>{{.Description}}{{if .Fields}}<table>{{range .Fields}}<tr><td style="padding-left:{{indent .Depth}}"><code>{{.Name}}</code></td><td>{{.Type}}</td><td class="desc">{{.Description}}</td></tr>{{end}}</table>{{end}}</td></tr>{{end}}</table>
</section>{{end}}{{end}}</div></main></body></html>
`
