package openapi

import (
	"github.com/getkin/kin-openapi/openapi3"
	"strconv"
)

// eachSubschema calls fn for every schema directly nested in s, with the
// pointer tokens that lead from s to it.
func eachSubschema(s *openapi3.Schema, fn func(ref *openapi3.SchemaRef, tokens ...string)) {
	for i, ref := range s.AllOf {
		fn(ref, "allOf", strconv.Itoa(i))
	}
	for i, ref := range s.AnyOf {
		fn(ref, "anyOf", strconv.Itoa(i))
	}
	for i, ref := range s.OneOf {
		fn(ref, "oneOf", strconv.Itoa(i))
	}
	if s.Not != nil {
		fn(s.Not, "not")
	}
	if s.Items != nil {
		fn(s.Items, "items")
	}
	for i, ref := range s.PrefixItems {
		fn(ref, "prefixItems", strconv.Itoa(i))
	}
	if s.Contains != nil {
		fn(s.Contains, "contains")
	}
	for _, name := range sortedKeys(s.Properties) {
		fn(s.Properties[name], "properties", name)
	}
	if s.AdditionalProperties.Schema != nil {
		fn(s.AdditionalProperties.Schema, "additionalProperties")
	}
	for _, name := range sortedKeys(s.PatternProperties) {
		fn(s.PatternProperties[name], "patternProperties", name)
	}
	for _, name := range sortedKeys(s.DependentSchemas) {
		fn(s.DependentSchemas[name], "dependentSchemas", name)
	}
	if s.PropertyNames != nil {
		fn(s.PropertyNames, "propertyNames")
	}
	if s.UnevaluatedItems.Schema != nil {
		fn(s.UnevaluatedItems.Schema, "unevaluatedItems")
	}
	if s.UnevaluatedProperties.Schema != nil {
		fn(s.UnevaluatedProperties.Schema, "unevaluatedProperties")
	}
	if s.If != nil {
		fn(s.If, "if")
	}
	if s.Then != nil {
		fn(s.Then, "then")
	}
	if s.Else != nil {
		fn(s.Else, "else")
	}
	if s.ContentSchema != nil {
		fn(s.ContentSchema, "contentSchema")
	}
	for _, name := range sortedKeys(s.Defs) {
		fn(s.Defs[name], "$defs", name)
	}
	if d := s.Discriminator; d != nil {
		for _, key := range sortedKeys(d.Mapping) {
			ref := openapi3.SchemaRef(d.Mapping[key])
			fn(&ref, "discriminator", "mapping", key)
		}
	}
}

// emptySchema stands in for every subschema of a stripped schema.
var emptySchema = &openapi3.Schema{}

// stripSubschemas returns a shallow copy of s whose subschemas are all the
// empty schema, so that validating it checks s's own keywords only. The
// references themselves are copied, keeping what kin-openapi checks on them
// (fields next to a $ref); unresolved ones stay unresolved.
func stripSubschemas(s *openapi3.Schema) *openapi3.Schema {
	c := *s
	c.AllOf = stripRefs(s.AllOf)
	c.AnyOf = stripRefs(s.AnyOf)
	c.OneOf = stripRefs(s.OneOf)
	c.PrefixItems = stripRefs(s.PrefixItems)
	c.Not = stripRef(s.Not)
	c.Items = stripRef(s.Items)
	c.Contains = stripRef(s.Contains)
	c.PropertyNames = stripRef(s.PropertyNames)
	c.If, c.Then, c.Else = stripRef(s.If), stripRef(s.Then), stripRef(s.Else)
	c.ContentSchema = stripRef(s.ContentSchema)
	c.AdditionalProperties.Schema = stripRef(s.AdditionalProperties.Schema)
	c.UnevaluatedItems.Schema = stripRef(s.UnevaluatedItems.Schema)
	c.UnevaluatedProperties.Schema = stripRef(s.UnevaluatedProperties.Schema)
	c.Properties = stripMap(s.Properties)
	c.PatternProperties = stripMap(s.PatternProperties)
	c.DependentSchemas = stripMap(s.DependentSchemas)
	c.Defs = stripMap(s.Defs)
	if d := s.Discriminator; d != nil && len(d.Mapping) > 0 {
		dc := *d
		dc.Mapping = make(map[string]openapi3.MappingRef, len(d.Mapping))
		for k, m := range d.Mapping {
			if m.Value != nil {
				m.Value = emptySchema
			}
			dc.Mapping[k] = m
		}
		c.Discriminator = &dc
	}
	return &c
}

func stripRef(ref *openapi3.SchemaRef) *openapi3.SchemaRef {
	if ref == nil {
		return nil
	}
	c := *ref
	if c.Value != nil {
		c.Value = emptySchema
	}
	return &c
}

func stripRefs(refs openapi3.SchemaRefs) openapi3.SchemaRefs {
	if refs == nil {
		return nil
	}
	out := make(openapi3.SchemaRefs, len(refs))
	for i, ref := range refs {
		out[i] = stripRef(ref)
	}
	return out
}

func stripMap(m openapi3.Schemas) openapi3.Schemas {
	if m == nil {
		return nil
	}
	out := make(openapi3.Schemas, len(m))
	for k, ref := range m {
		out[k] = stripRef(ref)
	}
	return out
}
