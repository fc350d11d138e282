package index

import (
	"html"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
)

// textOf returns what _text and _content search in a resource: its
// narrative without markup, and all its string values (the narrative's text
// in place of its XHTML), each folded, terms separated by single spaces.
// Left out of the content: resourceType, the resource's id and meta (set by
// the server, not content) and base64 data (elements named data: Binary,
// Attachment, Signature).
func textOf(root *fhirpath.Node) resources.TextEntry {
	var t resources.TextEntry
	if div, ok := root.Get("text").Get("div").Text(); ok {
		t.Narrative = Fold(stripMarkup(div))
	}
	var b strings.Builder
	var walk func(n *fhirpath.Node, top bool)
	walk = func(n *fhirpath.Node, top bool) {
		if s, ok := n.Text(); ok && !n.IsNumber() {
			AppendTerms(&b, s)
			return
		}
		for _, item := range n.Items() {
			walk(item, false)
		}
		n.Fields(func(name string, v *fhirpath.Node) {
			switch {
			case top && (name == "resourceType" || name == "id" || name == "meta"):
			case name == "data":
			case name == "div":
				if s, ok := v.Text(); ok {
					AppendTerms(&b, stripMarkup(s))
				}
			default:
				walk(v, false)
			}
		})
	}
	walk(root, true)
	t.Content = Fold(b.String())
	return t
}

// AppendTerms appends the words of s to b, separated by single spaces (the
// form of TextEntry.Content before folding).
func AppendTerms(b *strings.Builder, s string) {
	for _, w := range strings.Fields(s) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
}

// stripMarkup returns the text of an XHTML fragment: tags and comments
// become spaces, character references are decoded, runs of white space
// become one space.
func stripMarkup(x string) string {
	var b strings.Builder
	for len(x) > 0 {
		i := strings.IndexByte(x, '<')
		if i < 0 {
			b.WriteString(x)
			break
		}
		b.WriteString(x[:i])
		b.WriteByte(' ')
		x = x[i:]
		j := tagEnd(x)
		if j < 0 {
			break // an unterminated tag: nothing after it is text
		}
		x = x[j:]
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}

// tagEnd returns the offset just past the tag or comment at the start of x
// ('>' inside quoted attribute values does not end a tag), or -1.
func tagEnd(x string) int {
	if strings.HasPrefix(x, "<!--") {
		if j := strings.Index(x, "-->"); j >= 0 {
			return j + 3
		}
		return -1
	}
	var quote byte
	for i := 1; i < len(x); i++ {
		switch c := x[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i + 1
		}
	}
	return -1
}
