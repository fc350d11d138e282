package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrorKind classifies FHIRPath errors the way the specification does.
type ErrorKind int

const (
	// SyntaxError: the expression does not follow the grammar.
	SyntaxError ErrorKind = iota + 1
	// SemanticError: the expression is well formed but invalid for the
	// model (unknown function, wrong arguments, unknown element or type).
	SemanticError
	// ExecutionError: evaluation failed (for example a singleton was
	// required but a collection with several items was found).
	ExecutionError
)

func (k ErrorKind) String() string {
	switch k {
	case SyntaxError:
		return "syntax"
	case SemanticError:
		return "semantic"
	case ExecutionError:
		return "execution"
	}
	return "unknown"
}

// Error is returned by Compile and Evaluate. Pos is the byte offset in the
// expression (-1 when unknown).
type Error struct {
	Kind ErrorKind
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	if e.Pos >= 0 {
		return fmt.Sprintf("fhirpath %s error at position %d: %s", e.Kind, e.Pos, e.Msg)
	}
	return fmt.Sprintf("fhirpath %s error: %s", e.Kind, e.Msg)
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tDelimIdent // `quoted`
	tString
	tNumber
	tDate     // @2015-02-04 etc (text without '@')
	tDateTime // @2015-02-04T...
	tTime     // @T... (text without "@T")
	tVar      // $this, $index, $total (text without '$')
	tEnv      // %name (text is the name)
	tOp       // punctuation and operators
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func syntaxErr(pos int, format string, args ...any) *Error {
	return &Error{Kind: SyntaxError, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits src into tokens.
func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		if err := l.skipSpaceAndComments(); err != nil {
			return nil, err
		}
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: l.pos})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "//"):
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return syntaxErr(l.pos, "unterminated comment")
			}
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) emit(k tokKind, text string, pos int) {
	l.toks = append(l.toks, token{kind: k, text: text, pos: pos})
}

func (l *lexer) next() error {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		l.pos++
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		l.emit(tIdent, l.src[start:l.pos], start)
		return nil
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		l.emit(tNumber, l.src[start:l.pos], start)
		return nil
	case c == '\'':
		s, err := l.quoted('\'')
		if err != nil {
			return err
		}
		l.emit(tString, s, start)
		return nil
	case c == '`':
		s, err := l.quoted('`')
		if err != nil {
			return err
		}
		l.emit(tDelimIdent, s, start)
		return nil
	case c == '@':
		return l.dateTime()
	case c == '$':
		l.pos++
		s := l.pos
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		if s == l.pos {
			return syntaxErr(start, "expected variable name after '$'")
		}
		l.emit(tVar, l.src[s:l.pos], start)
		return nil
	case c == '%':
		l.pos++
		if l.pos >= len(l.src) {
			return syntaxErr(start, "expected name after '%%'")
		}
		switch l.src[l.pos] {
		case '\'', '`':
			s, err := l.quoted(l.src[l.pos])
			if err != nil {
				return err
			}
			l.emit(tEnv, s, start)
			return nil
		}
		s := l.pos
		for l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || isDigit(l.src[l.pos]) || l.src[l.pos] == '-') {
			l.pos++
		}
		if s == l.pos {
			return syntaxErr(start, "expected name after '%%'")
		}
		l.emit(tEnv, l.src[s:l.pos], start)
		return nil
	}
	for _, op := range [...]string{"<=", ">=", "!=", "!~"} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += 2
			l.emit(tOp, op, start)
			return nil
		}
	}
	switch c {
	case '.', '[', ']', '(', ')', ',', '+', '-', '*', '/', '&', '|', '=', '~', '<', '>', '{', '}':
		l.pos++
		l.emit(tOp, l.src[start:l.pos], start)
		return nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return syntaxErr(start, "unexpected character %q", r)
}

// quoted reads a string or delimited identifier with FHIRPath escapes.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == q {
			l.pos++
			return b.String(), nil
		}
		if c != '\\' {
			b.WriteByte(c)
			l.pos++
			continue
		}
		if l.pos+1 >= len(l.src) {
			break
		}
		e := l.src[l.pos+1]
		l.pos += 2
		switch e {
		case '\'', '"', '`', '\\', '/':
			b.WriteByte(e)
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if l.pos+4 > len(l.src) {
				return "", syntaxErr(l.pos-2, "invalid unicode escape")
			}
			v, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
			if err != nil {
				return "", syntaxErr(l.pos-2, "invalid unicode escape")
			}
			b.WriteRune(rune(v))
			l.pos += 4
		default:
			return "", syntaxErr(l.pos-2, "invalid escape sequence \\%c", e)
		}
	}
	return "", syntaxErr(start, "unterminated %s", map[byte]string{'\'': "string", '`': "identifier"}[q])
}

func (l *lexer) digits(n int) bool {
	if l.pos+n > len(l.src) {
		return false
	}
	for i := 0; i < n; i++ {
		if !isDigit(l.src[l.pos+i]) {
			return false
		}
	}
	l.pos += n
	return true
}

func (l *lexer) peekIs(c byte) bool { return l.pos < len(l.src) && l.src[l.pos] == c }

func (l *lexer) timePart() {
	if !l.digits(2) {
		return
	}
	if l.peekIs(':') {
		save := l.pos
		l.pos++
		if !l.digits(2) {
			l.pos = save
			return
		}
		if l.peekIs(':') {
			save := l.pos
			l.pos++
			if !l.digits(2) {
				l.pos = save
				return
			}
			if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
				l.pos++
				for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
					l.pos++
				}
			}
		}
	}
}

func (l *lexer) tz() {
	if l.peekIs('Z') {
		l.pos++
		return
	}
	if l.peekIs('+') || l.peekIs('-') {
		save := l.pos
		l.pos++
		if l.digits(2) && l.peekIs(':') {
			l.pos++
			if l.digits(2) {
				return
			}
		}
		l.pos = save
	}
}

func (l *lexer) dateTime() error {
	start := l.pos
	l.pos++ // @
	if l.peekIs('T') {
		l.pos++
		s := l.pos
		l.timePart()
		if s == l.pos {
			return syntaxErr(start, "invalid time literal")
		}
		l.tz()
		l.emit(tTime, l.src[s:l.pos], start)
		return nil
	}
	s := l.pos
	if !l.digits(4) {
		return syntaxErr(start, "invalid date literal")
	}
	for i := 0; i < 2; i++ {
		if l.peekIs('-') {
			save := l.pos
			l.pos++
			if !l.digits(2) {
				l.pos = save
				break
			}
		}
	}
	if !l.peekIs('T') {
		l.emit(tDate, l.src[s:l.pos], start)
		return nil
	}
	l.pos++
	l.timePart()
	l.tz()
	l.emit(tDateTime, l.src[s:l.pos], start)
	return nil
}
