package openapi

import (
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// mergeAllOf returns s with its allOf folded in when that keeps the meaning,
// and s itself otherwise. Two patterns are merged:
//
//   - a single member next to annotations only (allOf: [$ref] with a
//     description or nullable): the member, annotated;
//   - object members (and an object parent) whose properties do not clash:
//     one object with the union of properties and required names.
//
// Anything else (members with other types, combinators of their own,
// conflicting property definitions) stays an allOf.
func (c *schemaConverter) mergeAllOf(s *openapi3.Schema) *openapi3.Schema {
	if len(s.AllOf) == 0 {
		return s
	}
	if m, ok := c.merged[s]; ok {
		return m
	}
	c.merged[s] = s // a member that leads back here sees the unmerged form
	m := s
	if merged, ok := c.mergeSingle(s); ok {
		m = merged
	} else if merged, ok := c.mergeObjects(s); ok {
		m = merged
	}
	c.merged[s] = m
	return m
}

// mergeSingle folds allOf: [X] into X when s adds only annotations.
func (c *schemaConverter) mergeSingle(s *openapi3.Schema) (*openapi3.Schema, bool) {
	if len(s.AllOf) != 1 || s.AllOf[0] == nil || s.AllOf[0].Value == nil || !annotationsOnly(s) {
		return nil, false
	}
	member := c.mergeAllOf(s.AllOf[0].Value)
	if member.Always != nil {
		return nil, false
	}
	out := *member
	if s.Title != "" {
		out.Title = s.Title
	}
	if s.Description != "" {
		out.Description = s.Description
	}
	if s.Default != nil {
		out.Default = s.Default
	}
	if s.Example != nil {
		out.Example = s.Example
	}
	if len(s.Examples) > 0 {
		out.Examples = s.Examples
	}
	out.Nullable = out.Nullable || s.Nullable
	out.ReadOnly = out.ReadOnly || s.ReadOnly
	out.WriteOnly = out.WriteOnly || s.WriteOnly
	out.Deprecated = out.Deprecated || s.Deprecated
	return &out, true
}

// mergeObjects folds object members into one object; the parent's own
// keywords (nullable, description...) win over the members'.
func (c *schemaConverter) mergeObjects(s *openapi3.Schema) (*openapi3.Schema, bool) {
	if !plainObject(s, true) {
		return nil, false
	}
	out := *s
	out.AllOf = nil
	out.Properties = make(openapi3.Schemas, len(s.Properties))
	for name, ref := range s.Properties {
		out.Properties[name] = ref
	}
	out.Required = slices.Clone(s.Required)
	for _, ref := range s.AllOf {
		if ref == nil || ref.Value == nil {
			return nil, false
		}
		member := c.mergeAllOf(ref.Value)
		if len(member.AllOf) > 0 || !plainObject(member, false) {
			return nil, false
		}
		for name, prop := range member.Properties {
			if existing, clash := out.Properties[name]; clash && (existing == nil || prop == nil || existing.Value != prop.Value) {
				return nil, false
			}
			out.Properties[name] = prop
		}
		for _, name := range member.Required {
			if !slices.Contains(out.Required, name) {
				out.Required = append(out.Required, name)
			}
		}
		if member.AdditionalProperties.Has != nil || member.AdditionalProperties.Schema != nil {
			if out.AdditionalProperties.Has != nil || out.AdditionalProperties.Schema != nil {
				return nil, false
			}
			out.AdditionalProperties = member.AdditionalProperties
		}
		if out.Type == nil && member.Type != nil {
			out.Type = member.Type
		}
		if out.Description == "" {
			out.Description = member.Description
		}
		if out.Title == "" {
			out.Title = member.Title
		}
	}
	return &out, true
}

// annotationsOnly reports whether s carries nothing but allOf and annotations.
func annotationsOnly(s *openapi3.Schema) bool {
	probe := *s
	probe.AllOf = nil
	probe.Extensions = nil
	probe.Origin = nil
	probe.Title, probe.Description = "", ""
	probe.Default, probe.Example, probe.Examples = nil, nil, nil
	probe.Nullable, probe.ReadOnly, probe.WriteOnly, probe.Deprecated = false, false, false, false
	probe.ExternalDocs, probe.XML = nil, nil
	probe.Comment = ""
	return isBare(&probe)
}

// plainObject reports whether s describes an object by properties only, so
// that merging it with others keeps its meaning. The parent of an allOf
// (parent=true) may hold the allOf itself.
func plainObject(s *openapi3.Schema, parent bool) bool {
	if s.Type != nil && !s.Type.Is(openapi3.TypeObject) {
		return false
	}
	if !parent && len(s.AllOf) > 0 {
		return false
	}
	return s.Always == nil && len(s.OneOf) == 0 && len(s.AnyOf) == 0 && s.Not == nil &&
		s.Discriminator == nil && s.If == nil && s.Then == nil && s.Else == nil &&
		len(s.Enum) == 0 && s.Const == nil && s.Items == nil && len(s.PrefixItems) == 0 &&
		len(s.PatternProperties) == 0 && len(s.DependentSchemas) == 0 && s.PropertyNames == nil &&
		s.UnevaluatedProperties.Has == nil && s.UnevaluatedProperties.Schema == nil &&
		s.DynamicRef == "" && s.MinProps == 0 && s.MaxProps == nil
}

// isBare reports whether a schema has no keyword at all.
func isBare(s *openapi3.Schema) bool {
	return s.Always == nil && s.IsEmpty() && s.Title == "" && s.Description == "" &&
		s.Discriminator == nil && len(s.OneOf) == 0 && len(s.AnyOf) == 0 && len(s.AllOf) == 0 &&
		s.Items == nil && len(s.Properties) == 0 && s.AdditionalProperties.Has == nil &&
		s.AdditionalProperties.Schema == nil && len(s.PrefixItems) == 0 && s.Contains == nil &&
		len(s.PatternProperties) == 0 && len(s.DependentSchemas) == 0 && s.PropertyNames == nil &&
		s.If == nil && s.Then == nil && s.Else == nil && s.Not == nil && s.Format == "" &&
		s.DynamicRef == "" && len(s.Defs) == 0
}
