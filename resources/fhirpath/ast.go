package fhirpath

// expr is a node of the compiled syntax tree. Evaluation takes the focus
// collection and returns a new collection.
type expr interface {
	eval(ec *evalCtx, focus []Value) ([]Value, error)
	position() int
}

// typeSpec is a (possibly qualified) type name used by is, as and ofType.
type typeSpec struct {
	ns   string // "System", "FHIR" or "" (unqualified)
	name string
}

func (t typeSpec) String() string {
	if t.ns == "" {
		return t.name
	}
	return t.ns + "." + t.name
}

type litExpr struct {
	v []Value
	p int
}

type varExpr struct {
	name string // this, index, total
	p    int
}

type envExpr struct {
	name string
	p    int
}

// memberExpr navigates to children named name of each item of target (or of
// the focus when target is nil).
type memberExpr struct {
	target expr
	name   string
	p      int
	// static is true when the focus type is known from the path alone, so
	// that an unknown element name is a semantic error rather than empty.
	static bool
}

// isStatic reports whether e yields items whose type follows from the path.
func isStatic(e expr) bool {
	switch x := e.(type) {
	case *memberExpr:
		return x.static
	case *indexExpr:
		return isStatic(x.target)
	case *typeExpr:
		return x.op == "as" && isStatic(x.x)
	case *callExpr:
		switch x.name {
		case "first", "last", "single", "tail", "skip", "take", "where", "ofType", "as", "extension":
			return x.target != nil && isStatic(x.target)
		}
	}
	return false
}

type callExpr struct {
	target expr // nil: the focus
	name   string
	args   []expr
	fn     *funcDef
	typ    typeSpec // for is, as, ofType
	p      int
}

type indexExpr struct {
	target, index expr
	p             int
}

type unaryExpr struct {
	neg bool
	x   expr
	p   int
}

type binExpr struct {
	op   string
	l, r expr
	p    int
}

type typeExpr struct {
	op string // is, as
	x  expr
	t  typeSpec
	p  int
}

func (e *litExpr) position() int    { return e.p }
func (e *varExpr) position() int    { return e.p }
func (e *envExpr) position() int    { return e.p }
func (e *memberExpr) position() int { return e.p }
func (e *callExpr) position() int   { return e.p }
func (e *indexExpr) position() int  { return e.p }
func (e *unaryExpr) position() int  { return e.p }
func (e *binExpr) position() int    { return e.p }
func (e *typeExpr) position() int   { return e.p }
