package fhirpath

import (
	"strconv"
)

// Limits applied by Compile.
const (
	MaxExpressionLength = 64 * 1024
	MaxNesting          = 128
)

// Expression is a compiled FHIRPath expression. It is immutable and safe for
// concurrent use.
type Expression struct {
	src     string
	root    expr
	usesNow bool // calls now(), today() or timeOfDay()
}

// String returns the source text.
func (e *Expression) String() string { return e.src }

// Compile parses a FHIRPath expression. Errors are *Error values with the
// position of the problem.
func Compile(src string) (*Expression, error) {
	if len(src) > MaxExpressionLength {
		return nil, &Error{Kind: SyntaxError, Pos: MaxExpressionLength, Msg: "expression too long"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxErr(t.pos, "expected end of expression, found %s", describe(t))
	}
	return &Expression{src: src, root: root, usesNow: p.usesNow}, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on error
// and is meant for package-level variables.
func MustCompile(src string) *Expression {
	e, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return e
}

type parser struct {
	toks    []token
	i       int
	depth   int
	usesNow bool
	args    int // nesting of function arguments
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(text string) bool {
	t := p.toks[p.i]
	return t.kind == tOp && t.text == text
}

func (p *parser) isKeyword(text string) bool {
	t := p.toks[p.i]
	return t.kind == tIdent && t.text == text
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string literal"
	case tNumber:
		return "number " + t.text
	}
	return strconv.Quote(t.text)
}

func (p *parser) expect(op string) error {
	if !p.isOp(op) {
		t := p.peek()
		return syntaxErr(t.pos, "expected '%s', found %s", op, describe(t))
	}
	p.advance()
	return nil
}

// binary operator precedence levels, lowest first.
var levels = [][]string{
	{"implies"},
	{"or", "xor"},
	{"and"},
	{"in", "contains"},
	{"=", "~", "!=", "!~"},
	{"<", ">", "<=", ">="},
	{"|"},
	{"is", "as"}, // type operators (right side is a type)
	{"+", "-", "&"},
	{"*", "/", "div", "mod"},
}

func (p *parser) matchLevel(level int) (token, bool) {
	t := p.peek()
	if t.kind != tOp && t.kind != tIdent {
		return t, false
	}
	for _, op := range levels[level] {
		if t.text == op {
			return t, true
		}
	}
	return t, false
}

func (p *parser) expression(level int) (expr, error) {
	if level >= len(levels) {
		return p.unary()
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxNesting*len(levels) {
		return nil, syntaxErr(p.peek().pos, "expression nested too deeply")
	}
	left, err := p.expression(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.matchLevel(level)
		if !ok {
			return left, nil
		}
		p.advance()
		if t.text == "is" || t.text == "as" {
			ts, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeExpr{op: t.text, x: left, t: ts, p: t.pos}
			continue
		}
		right, err := p.expression(level + 1)
		if err != nil {
			return nil, err
		}
		left = &binExpr{op: t.text, l: left, r: right, p: t.pos}
	}
}

func (p *parser) identifier() (string, int, bool) {
	t := p.peek()
	if t.kind == tIdent || t.kind == tDelimIdent {
		p.advance()
		return t.text, t.pos, true
	}
	return "", t.pos, false
}

func (p *parser) typeSpecifier() (typeSpec, error) {
	name, pos, ok := p.identifier()
	if !ok {
		return typeSpec{}, syntaxErr(pos, "expected type name, found %s", describe(p.peek()))
	}
	if p.isOp(".") {
		p.advance()
		n2, pos2, ok := p.identifier()
		if !ok {
			return typeSpec{}, syntaxErr(pos2, "expected type name after '.'")
		}
		return typeSpec{ns: name, name: n2}, nil
	}
	return typeSpec{name: name}, nil
}

func (p *parser) unary() (expr, error) {
	if p.isOp("+") || p.isOp("-") {
		t := p.advance()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > MaxNesting*len(levels) {
			return nil, syntaxErr(t.pos, "expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		// fold negative numeric literals
		if l, ok := x.(*litExpr); ok && len(l.v) == 1 && p.args == 0 {
			switch v := l.v[0].(type) {
			case Integer:
				return &litExpr{v: []Value{-v}, p: t.pos}, nil
			case Decimal:
				return &litExpr{v: []Value{v.Neg()}, p: t.pos}, nil
			case Quantity:
				return &litExpr{v: []Value{Quantity{Value: v.Value.Neg(), Unit: v.Unit}}, p: t.pos}, nil
			}
		}
		return &unaryExpr{neg: true, x: x, p: t.pos}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.advance()
			name, pos, ok := p.identifier()
			if !ok {
				return nil, syntaxErr(pos, "expected identifier or function after '.', found %s", describe(p.peek()))
			}
			if p.isOp("(") {
				x, err = p.call(x, name, pos)
				if err != nil {
					return nil, err
				}
				continue
			}
			x = &memberExpr{target: x, name: name, p: pos, static: isStatic(x)}
		case p.isOp("["):
			t := p.advance()
			idx, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &indexExpr{target: x, index: idx, p: t.pos}
		default:
			return x, nil
		}
	}
}

func (p *parser) call(target expr, name string, pos int) (expr, error) {
	p.advance() // (
	p.args++
	defer func() { p.args-- }()
	var args []expr
	if !p.isOp(")") {
		for {
			a, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.isOp(",") {
				p.advance()
				continue
			}
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	switch name {
	case "now", "today", "timeOfDay":
		p.usesNow = true
	}
	return newCall(target, name, args, pos)
}

var keywords = map[string]bool{
	"and": true, "or": true, "xor": true, "implies": true, "div": true, "mod": true,
	"true": true, "false": true,
}

func (p *parser) term() (expr, error) {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.advance()
		return p.number(t)
	case tString:
		p.advance()
		return &litExpr{v: []Value{String(t.text)}, p: t.pos}, nil
	case tDate:
		p.advance()
		d, ok := ParseDate(t.text)
		if !ok {
			return nil, syntaxErr(t.pos, "invalid date literal @%s", t.text)
		}
		return &litExpr{v: []Value{d}, p: t.pos}, nil
	case tDateTime:
		p.advance()
		d, ok := ParseDateTime(t.text)
		if !ok {
			return nil, syntaxErr(t.pos, "invalid date-time literal @%s", t.text)
		}
		return &litExpr{v: []Value{d}, p: t.pos}, nil
	case tTime:
		p.advance()
		tm, ok := ParseTime(t.text)
		if !ok {
			return nil, syntaxErr(t.pos, "invalid time literal @T%s", t.text)
		}
		return &litExpr{v: []Value{tm}, p: t.pos}, nil
	case tVar:
		p.advance()
		switch t.text {
		case "this", "index", "total":
			return &varExpr{name: t.text, p: t.pos}, nil
		}
		return nil, syntaxErr(t.pos, "unknown variable $%s", t.text)
	case tEnv:
		p.advance()
		return &envExpr{name: t.text, p: t.pos}, nil
	case tDelimIdent:
		p.advance()
		if p.isOp("(") {
			return p.call(nil, t.text, t.pos)
		}
		return &memberExpr{name: t.text, p: t.pos, static: p.args == 0}, nil
	case tIdent:
		if t.text == "true" || t.text == "false" {
			p.advance()
			return &litExpr{v: []Value{Boolean(t.text == "true")}, p: t.pos}, nil
		}
		if keywords[t.text] {
			return nil, syntaxErr(t.pos, "expected expression, found keyword %q", t.text)
		}
		p.advance()
		if p.isOp("(") {
			return p.call(nil, t.text, t.pos)
		}
		return &memberExpr{name: t.text, p: t.pos, static: p.args == 0}, nil
	case tOp:
		switch t.text {
		case "(":
			p.advance()
			p.depth++
			if p.depth > MaxNesting*len(levels) {
				return nil, syntaxErr(t.pos, "expression nested too deeply")
			}
			x, err := p.expression(0)
			p.depth--
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "{":
			p.advance()
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &litExpr{p: t.pos}, nil
		}
	}
	return nil, syntaxErr(t.pos, "expected expression, found %s", describe(t))
}

func (p *parser) number(t token) (expr, error) {
	var v Value
	if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
		v = Integer(i)
	} else {
		d, ok := ParseDecimal(t.text)
		if !ok {
			return nil, syntaxErr(t.pos, "invalid number %s", t.text)
		}
		isInt := true
		for i := 0; i < len(t.text); i++ {
			if t.text[i] == '.' {
				isInt = false
			}
		}
		if isInt {
			return nil, syntaxErr(t.pos, "integer %s out of range", t.text)
		}
		v = d
	}
	// quantity literal: number followed by a unit string or calendar keyword
	n := p.peek()
	if n.kind == tString || (n.kind == tIdent && calendarUnits[n.text] != "") {
		p.advance()
		var d Decimal
		switch x := v.(type) {
		case Integer:
			d = DecimalFromInt(int64(x))
		case Decimal:
			d = x
		}
		return &litExpr{v: []Value{Quantity{Value: d, Unit: n.text}}, p: t.pos}, nil
	}
	return &litExpr{v: []Value{v}, p: t.pos}, nil
}
