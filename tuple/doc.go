// Package tuple defines object references, subject references and relationships,
// and their string syntax:
//
//	resource_type:resource_id#relation@subject_type:subject_id[#subject_relation][CAVEAT[:{json}]][expiration:RFC3339]
//
// A subject written "type:id#..." (SpiceDB's explicit "no relation") is the
// plain subject "type:id". Type and caveat names may carry "prefix/"
// segments (acme/docs/document, foo/bar/only_on_tuesday).
//
// It enforces the name and ID rules of docs/SCHEMA.md and depends on the
// standard library only, so every other package can share these types.
package tuple
