package validation

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Update returns data (a policy file) with its validation block rewritten
// from the report: each key's list becomes what the engine computed, and a
// file without a block gets one, after the other keys, with the entries the
// report generated (see Options.Generate). Everything else in the file, its
// comments and key order included, is kept: the YAML node tree is edited in
// place, not re-marshalled from a struct. Running Update on its own output
// with the same report changes nothing.
func Update(data []byte, rep *Report) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("update: a policy file is a YAML mapping")
	}
	top := doc.Content[0]
	got := map[string][]string{}
	for _, e := range rep.Expected {
		if e.Error != "" {
			return nil, fmt.Errorf("update: validation %s could not be computed: %s", e.Key, e.Error)
		}
		got[e.Key] = e.Got
	}
	var block *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "validation" {
			block = top.Content[i+1]
			break
		}
	}
	if block == nil || block.Kind != yaml.MappingNode {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, e := range rep.Expected {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Key}, &yaml.Node{})
		}
		if block == nil {
			top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "validation"}, m)
		} else {
			m.HeadComment, m.LineComment, m.FootComment = block.HeadComment, block.LineComment, block.FootComment
			*block = *m
		}
		block = m
	}
	for i := 0; i+1 < len(block.Content); i += 2 {
		k := block.Content[i]
		subjects, ok := got[keyOf(k.Value)]
		if !ok {
			continue
		}
		old := block.Content[i+1]
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if len(subjects) == 0 {
			seq.Style = yaml.FlowStyle // "[]": no subject has it
		}
		for _, s := range subjects {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: s})
		}
		seq.HeadComment, seq.LineComment, seq.FootComment = old.HeadComment, old.LineComment, old.FootComment
		block.Content[i+1] = seq
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	return buf.Bytes(), nil
}

// keyOf normalizes a validation key as written to the form reports use.
func keyOf(s string) string {
	obj, perm, err := parseObjectRelation(s)
	if err != nil {
		return s
	}
	return key(obj, perm)
}
