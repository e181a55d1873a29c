package syntax

import "strings"

// Comment attachment: which node each comment belongs to (see the package
// comment, section Comments).

// takeLeading returns the pending comments, all of which come before the
// current token, with a blank-line marker (empty text) wherever a blank line
// separates two of them or the last of them from the token. It also reports
// whether a blank line separates the previous node from the first of them.
func (p *parser) takeLeading() (leading []comment, blankBefore bool) {
	first := p.pos.Line
	if len(p.pending) > 0 {
		first = p.pending[0].pos.Line
	}
	blankBefore = p.endLine > 0 && first-p.endLine >= 2
	leading = withBlanks(p.pending, p.pos.Line)
	p.pending = nil
	return leading, blankBefore
}

// withBlanks inserts a blank marker between comments separated by a blank line,
// and after the last one when a blank line separates it from line next.
func withBlanks(cs []comment, next int) []comment {
	var out []comment
	for i, c := range cs {
		if i > 0 && c.pos.Line-cs[i-1].endLine >= 2 {
			out = append(out, comment{})
		}
		out = append(out, c)
	}
	if n := len(cs); n > 0 && next-cs[n-1].endLine >= 2 {
		out = append(out, comment{})
	}
	return out
}

// texts turns comments into their texts, dropping blank markers at the start
// and end and collapsing repeated ones.
func texts(cs []comment, keepLastBlank bool) []string {
	var out []string
	for _, c := range cs {
		if c.text == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, c.text)
	}
	if !keepLastBlank && len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// finish is called after a node's last token has been consumed. It splits the
// pending comments into those inside the node (appended to leading), those on
// the same line after it (the trailing comment) and the rest, which stay pending
// for the next node. It returns the doc text and the ordinary comments.
func (p *parser) finish(leading []comment, allowDoc bool) (doc string, c Comments) {
	i := 0
	for i < len(p.pending) && p.pending[i].pos.Offset < p.prevEnd {
		i++
	}
	all := append(leading, p.pending[:i]...)
	j := i
	var trailing []string
	p.endLine = p.prevLine
	for j < len(p.pending) && p.pending[j].sameLine && p.pending[j].pos.Line == p.prevLine {
		trailing = append(trailing, p.pending[j].text)
		p.endLine = p.pending[j].endLine
		j++
	}
	p.pending = p.pending[j:]
	c.Trailing = strings.Join(trailing, " ")
	docIdx := -1
	if allowDoc {
		for k := len(all) - 1; k >= 0; k-- {
			if isDocComment(all[k].text) && docText(all[k].text) != "" {
				docIdx = k
				break
			}
		}
	}
	if docIdx >= 0 {
		doc = docText(all[docIdx].text)
		all = append(all[:docIdx:docIdx], all[docIdx+1:]...)
	}
	c.Leading = texts(all, true)
	return doc, c
}

// pendingTexts takes the pending comments as a list ending before line next,
// for the EndComments of a definition or file.
func (p *parser) pendingTexts(next int) []string {
	out := texts(withBlanks(p.pending, next), false)
	p.pending = nil
	return out
}

func isDocComment(text string) bool {
	return strings.HasPrefix(text, "/**") && !strings.HasPrefix(text, "/**/") && strings.HasSuffix(text, "*/") && len(text) >= 5
}

// docText strips the markers of a doc comment: the "/**" and "*/", the leading
// '*' of every line after the first, and surrounding white space of every line
// and of the whole text.
func docText(text string) string {
	body := strings.TrimSuffix(strings.TrimPrefix(text, "/**"), "*/")
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if i > 0 {
			l = strings.TrimSpace(strings.TrimPrefix(l, "*"))
		}
		lines[i] = l
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
