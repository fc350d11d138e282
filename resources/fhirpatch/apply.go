package fhirpatch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
	"github.com/meizhou-yiyang/yiyang/resources/jsontree"
)

// doc is the resource being patched: a mutable JSON tree, and the FHIRPath
// node tree of its current state with the place of every node in the first.
type doc struct {
	root *jsontree.Object
	node *fhirpath.Node
	at   map[*fhirpath.Node]loc
	objs map[*jsontree.Object]loc // where each object of the tree is
}

// loc is the place of an element in the tree: item idx of member key of obj.
type loc struct {
	obj *jsontree.Object // the object holding the member; nil for the resource itself
	key string           // the member's JSON name (type-suffixed for choice elements)
	idx int              // the index in the member's array, or -1 when it is no array
	def string           // the element path of obj ("Patient.contact"), for the R4 model
}

// index (re)builds the FHIRPath view of the tree after a change.
func (d *doc) index() error {
	n, err := fhirpath.DecodeJSON(jsontree.Encode(nil, d.root))
	if err != nil {
		return fmt.Errorf("the patched resource is unusable: %v", err)
	}
	d.node = n
	d.at = map[*fhirpath.Node]loc{}
	d.objs = map[*jsontree.Object]loc{}
	d.walk(n, d.root, loc{idx: -1})
	return nil
}

func (d *doc) walk(n *fhirpath.Node, v any, l loc) {
	d.at[n] = l
	switch v := v.(type) {
	case *jsontree.Object:
		d.objs[v] = l
		def := objectDef(v, l)
		i := 0
		n.Fields(func(name string, c *fhirpath.Node) {
			d.walk(c, v.Members[i].Val, loc{obj: v, key: name, idx: -1, def: def})
			i++
		})
	case *jsontree.Array:
		for i, c := range n.Items() {
			d.walk(c, v.Elems[i], loc{obj: l.obj, key: l.key, idx: i, def: l.def})
		}
	}
}

// objectDef returns the element path of object o found at l: its
// resourceType for a resource, else the path of its member.
func objectDef(o *jsontree.Object, l loc) string {
	if rt, ok := mustGet(o, "resourceType").(string); ok && rt != "" {
		return rt
	}
	if l.obj == nil {
		return ""
	}
	return l.def + "." + l.key
}

// locate returns the place of an element selected by a path.
func (d *doc) locate(v fhirpath.Value) (loc, bool) {
	el, ok := v.(*fhirpath.Element)
	if !ok {
		return loc{}, false
	}
	if n := el.Node(); n != nil {
		l, ok := d.at[n]
		return l, ok
	}
	// a primitive with only extensions: its place is that of "_name"
	l, ok := d.at[el.Extension()]
	if !ok || !strings.HasPrefix(l.key, "_") {
		return loc{}, false
	}
	l.key = l.key[1:]
	return l, true
}

// get returns the value at l (nil when absent).
func get(l loc) any {
	if l.obj == nil {
		return nil
	}
	v, _ := l.obj.Get(l.key)
	if l.idx < 0 {
		return v
	}
	if a, ok := v.(*jsontree.Array); ok && l.idx < len(a.Elems) {
		return a.Elems[l.idx]
	}
	return nil
}

// selectAll evaluates the operation's path.
func (d *doc) selectAll(op operation) ([]fhirpath.Value, error) {
	ctx := fhirpath.Context{Model: r4.FHIRPathModel{}, MaxSteps: MaxPathSteps}
	vals, err := op.expr.EvaluateNode(ctx, d.node)
	if err != nil {
		var fe *fhirpath.Error
		if errors.As(err, &fe) && fe.Kind != fhirpath.ExecutionError {
			return nil, &Error{Msg: "path: " + err.Error(), Malformed: true}
		}
		return nil, fmt.Errorf("path: %v", err)
	}
	return vals, nil
}

// selectOne evaluates the path, which must select exactly one element.
func (d *doc) selectOne(op operation) (loc, error) {
	vals, err := d.selectAll(op)
	if err != nil {
		return loc{}, err
	}
	switch len(vals) {
	case 0:
		return loc{}, fmt.Errorf("no content found at %s", op.path)
	case 1:
	default:
		return loc{}, fmt.Errorf("%s selects %d elements, not one", op.path, len(vals))
	}
	l, ok := d.locate(vals[0])
	if !ok {
		return loc{}, fmt.Errorf("%s does not select an element of the resource", op.path)
	}
	return l, nil
}

func (d *doc) apply(op operation) error {
	switch op.typ {
	case "add":
		l, err := d.selectOne(op)
		if err != nil {
			return err
		}
		return d.add(l, op.name, op.val)
	case "insert", "move":
		l, n, err := d.selectList(op)
		if err != nil {
			return err
		}
		if op.typ == "insert" {
			return d.insert(l, n, op.index, op.val)
		}
		return move(l, n, op.source, op.dest)
	case "replace":
		l, err := d.selectOne(op)
		if err != nil {
			return err
		}
		return d.replace(l, op.val)
	default: // delete
		vals, err := d.selectAll(op)
		if err != nil || len(vals) == 0 {
			return err
		}
		if len(vals) > 1 {
			return fmt.Errorf("%s selects %d elements; delete removes one", op.path, len(vals))
		}
		l, ok := d.locate(vals[0])
		if !ok {
			return fmt.Errorf("%s does not select an element of the resource", op.path)
		}
		return d.delete(l)
	}
}

// elementDef returns the R4 definition of member name of an object at def.
func elementDef(def, name string) (r4.Element, error) {
	if def != "" {
		if e, ok := r4.LookupElement(def + "." + name); ok {
			return e, nil
		}
	}
	return r4.Element{}, fmt.Errorf("%s has no element %q", strings.TrimPrefix(def, "."), name)
}

// jsonName returns the JSON member name of element name defined by e for a
// value of type typ: name itself, or for a choice element name + the type.
func jsonName(e r4.Element, name, typ string) (string, error) {
	if !e.Choice {
		return name, nil
	}
	if typ == "" {
		return "", fmt.Errorf("%s is a choice element: its value needs a type (value[x])", name)
	}
	for _, t := range e.Types {
		if t == typ {
			return name + upperFirst(typ), nil
		}
	}
	return "", fmt.Errorf("%s cannot be of type %s (allowed: %s)", name, typ, strings.Join(e.Types, ", "))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// build returns the JSON value of v for the element at def.
func build(v *value, def string) (any, error) {
	if v.parts == nil {
		return v.json, nil
	}
	o := &jsontree.Object{}
	for _, p := range v.parts {
		e, err := elementDef(def, p.name)
		if err != nil {
			return nil, err
		}
		if e.Choice && p.val.parts != nil {
			return nil, fmt.Errorf("%s is a choice element: its value needs a type (value[x])", p.name)
		}
		key, err := jsonName(e, p.name, p.val.typ)
		if err != nil {
			return nil, err
		}
		jv, err := build(p.val, def+"."+p.name)
		if err != nil {
			return nil, err
		}
		if e.Repeats() {
			appendItem(o, key, jv, p.val.ext)
			continue
		}
		if _, dup := o.Get(key); dup {
			return nil, fmt.Errorf("%s given twice, but it does not repeat", p.name)
		}
		setMember(o, key, jv, p.val.ext)
	}
	return o, nil
}

// setMember sets member key of o to v with its primitive extension ext
// (nil: no "_key").
func setMember(o *jsontree.Object, key string, v, ext any) {
	if v != nil {
		o.Set(key, v)
	}
	if ext != nil {
		o.Set("_"+key, ext)
	} else {
		o.Delete("_" + key)
	}
}

// appendItem appends v (with primitive extension ext) to the list key of o.
func appendItem(o *jsontree.Object, key string, v, ext any) {
	vals, exts := lists(o, key)
	n := listLen(vals, exts)
	insertAt(o, key, vals, exts, n, n, v, ext)
}

// lists returns the arrays of member key and "_key" of o (nil when absent or
// not arrays).
func lists(o *jsontree.Object, key string) (vals, exts *jsontree.Array) {
	vals, _ = mustGet(o, key).(*jsontree.Array)
	exts, _ = mustGet(o, "_"+key).(*jsontree.Array)
	return vals, exts
}

func listLen(vals, exts *jsontree.Array) int {
	n := 0
	if vals != nil {
		n = len(vals.Elems)
	}
	if exts != nil {
		n = max(n, len(exts.Elems))
	}
	return n
}

// pad extends a to n items with nulls.
func pad(a *jsontree.Array, n int) {
	for len(a.Elems) < n {
		a.Elems = append(a.Elems, nil)
	}
}

// insertAt inserts v and ext at index i of the list key of o, which has n
// items, keeping "_key" aligned.
func insertAt(o *jsontree.Object, key string, vals, exts *jsontree.Array, n, i int, v, ext any) {
	if vals == nil {
		vals = &jsontree.Array{}
		o.Set(key, vals)
	}
	pad(vals, n)
	vals.Elems = insertItem(vals.Elems, i, v)
	if exts == nil && ext != nil {
		exts = &jsontree.Array{}
		o.Set("_"+key, exts)
	}
	if exts != nil {
		pad(exts, n)
		exts.Elems = insertItem(exts.Elems, i, ext)
	}
}

func insertItem(s []any, i int, v any) []any {
	s = append(s, nil)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

// add adds child name with value v to the element at l.
func (d *doc) add(l loc, name string, v *value) error {
	o, def, err := d.container(l, name)
	if err != nil {
		return err
	}
	e, err := elementDef(def, name)
	if err != nil {
		return err
	}
	key, err := jsonName(e, name, v.typ)
	if err != nil {
		return err
	}
	jv, err := build(v, def+"."+name)
	if err != nil {
		return err
	}
	if e.Repeats() {
		if cur, ok := o.Get(key); ok {
			if _, isList := cur.(*jsontree.Array); !isList {
				return fmt.Errorf("%s is not a list", key)
			}
		}
		appendItem(o, key, jv, v.ext)
		return nil
	}
	for _, k := range memberNames(e, name) {
		if cur, _ := o.Get(k); cur != nil {
			return fmt.Errorf("%s already has %s (add cannot replace a single element)", strings.TrimPrefix(def, "."), k)
		}
	}
	if jv != nil {
		o.Set(key, jv)
	}
	if v.ext != nil {
		o.Set("_"+key, v.ext)
	}
	return nil
}

// memberNames returns the JSON names element name defined by e may have.
func memberNames(e r4.Element, name string) []string {
	if !e.Choice {
		return []string{name}
	}
	names := make([]string, len(e.Types))
	for i, t := range e.Types {
		names[i] = name + upperFirst(t)
	}
	return names
}

// container returns the object the children of the element at l live in,
// with its element path. The children of a primitive (id, extension) live
// in its "_name" object, created when needed.
func (d *doc) container(l loc, name string) (*jsontree.Object, string, error) {
	cur := get(l)
	if l.obj == nil {
		cur = d.root
	}
	if o, ok := cur.(*jsontree.Object); ok {
		return o, d.defOf(o), nil
	}
	if _, ok := cur.(*jsontree.Array); ok {
		return nil, "", fmt.Errorf("cannot add %s to a list", name)
	}
	// a primitive element
	if name != "id" && name != "extension" {
		return nil, "", fmt.Errorf("a primitive element %s has no element %q", l.key, name)
	}
	extKey := "_" + l.key
	if l.idx < 0 {
		if o, ok := mustGet(l.obj, extKey).(*jsontree.Object); ok {
			return o, "Element", nil
		}
		o := &jsontree.Object{}
		l.obj.Set(extKey, o)
		return o, "Element", nil
	}
	vals, exts := lists(l.obj, l.key)
	n := listLen(vals, exts)
	if exts == nil {
		exts = &jsontree.Array{}
		l.obj.Set(extKey, exts)
	}
	pad(exts, n)
	if o, ok := exts.Elems[l.idx].(*jsontree.Object); ok {
		return o, "Element", nil
	}
	o := &jsontree.Object{}
	exts.Elems[l.idx] = o
	return o, "Element", nil
}

// defOf returns the element path of an object of the tree.
func (d *doc) defOf(o *jsontree.Object) string {
	return objectDef(o, d.objs[o])
}

// replace replaces the element at l with v.
func (d *doc) replace(l loc, v *value) error {
	if l.obj == nil {
		return errors.New("cannot replace the resource itself")
	}
	key := l.key
	name, e, ok := choiceOf(l.def, l.key)
	if ok && v.typ != "" {
		var err error
		if key, err = jsonName(e, name, v.typ); err != nil {
			return err
		}
	} else if ok {
		return fmt.Errorf("%s is a choice element: its value needs a type (value[x])", name)
	}
	if !ok {
		name = l.key
	}
	jv, err := build(v, l.def+"."+name)
	if err != nil {
		return err
	}
	if l.idx < 0 {
		if key != l.key {
			renameMember(l.obj, l.key, key)
			renameMember(l.obj, "_"+l.key, "_"+key)
		}
		if jv == nil {
			l.obj.Delete(key)
		}
		setMember(l.obj, key, jv, v.ext)
		return nil
	}
	vals, exts := lists(l.obj, l.key)
	n := listLen(vals, exts)
	if vals == nil {
		vals = &jsontree.Array{}
		l.obj.Set(l.key, vals)
	}
	pad(vals, n)
	vals.Elems[l.idx] = jv
	if exts == nil && v.ext != nil {
		exts = &jsontree.Array{}
		l.obj.Set("_"+l.key, exts)
	}
	if exts != nil {
		pad(exts, n)
		exts.Elems[l.idx] = v.ext
	}
	tidyList(l.obj, l.key)
	return nil
}

// choiceOf reports whether member key of an object at def is a choice
// element, and returns its name without type and its definition.
func choiceOf(def, key string) (string, r4.Element, bool) {
	if def == "" {
		return "", r4.Element{}, false
	}
	if e, ok := r4.LookupElement(def + "." + key); ok && !strings.HasSuffix(e.Path, "[x]") && len(e.Types) <= 1 {
		// a plain element, or a choice named with its type
		for _, c := range r4.Children(def) {
			if !c.Choice {
				continue
			}
			name := strings.TrimSuffix(c.Path[strings.LastIndexByte(c.Path, '.')+1:], "[x]")
			if rest, ok := strings.CutPrefix(key, name); ok && rest != "" {
				for _, t := range c.Types {
					if upperFirst(t) == rest {
						return name, c, true
					}
				}
			}
		}
	}
	return "", r4.Element{}, false
}

// renameMember renames member from of o to to, keeping its position.
func renameMember(o *jsontree.Object, from, to string) {
	if i := o.Index(from); i >= 0 {
		o.Delete(to)
		if i = o.Index(from); i >= 0 {
			o.Members[i].Key = to
		}
	}
}

// tidyList removes the list key of o and its "_key" list when they hold
// only nulls (or nothing).
func tidyList(o *jsontree.Object, key string) {
	vals, exts := lists(o, key)
	if exts != nil && allNull(exts) {
		o.Delete("_" + key)
		exts = nil
	}
	if vals != nil && (len(vals.Elems) == 0 || exts == nil && allNull(vals)) {
		o.Delete(key)
	}
}

func allNull(a *jsontree.Array) bool {
	for _, e := range a.Elems {
		if e != nil {
			return false
		}
	}
	return true
}

// delete removes the element at l, and objects left empty by that.
func (d *doc) delete(l loc) error {
	if l.obj == nil {
		return errors.New("cannot delete the resource itself")
	}
	if l.idx < 0 {
		l.obj.Delete(l.key)
		l.obj.Delete("_" + l.key)
	} else {
		vals, exts := lists(l.obj, l.key)
		for _, a := range []*jsontree.Array{vals, exts} {
			if a != nil && l.idx < len(a.Elems) {
				a.Elems = append(a.Elems[:l.idx], a.Elems[l.idx+1:]...)
			}
		}
		tidyList(l.obj, l.key)
	}
	if len(l.obj.Members) == 0 {
		if up, ok := d.objs[l.obj]; ok && up.obj != nil && get(up) == l.obj {
			return d.delete(up)
		}
	}
	return nil
}

// selectList evaluates the path of insert or move, which must select a
// whole list (all the items of one member), and returns the place of the
// list (idx -1) and its length. A path that selects nothing names an empty
// list when it ends in an element name below an element it selects.
func (d *doc) selectList(op operation) (loc, int, error) {
	vals, err := d.selectAll(op)
	if err != nil {
		return loc{}, 0, err
	}
	if len(vals) == 0 {
		return d.emptyList(op)
	}
	var list loc
	for i, v := range vals {
		l, ok := d.locate(v)
		if !ok {
			return loc{}, 0, fmt.Errorf("%s does not select elements of the resource", op.path)
		}
		if l.obj == nil || l.idx < 0 {
			return loc{}, 0, fmt.Errorf("%s does not select a list", op.path)
		}
		if i == 0 {
			list = l
		} else if l.obj != list.obj || l.key != list.key {
			return loc{}, 0, fmt.Errorf("%s selects items of more than one list", op.path)
		}
	}
	list.idx = -1
	vl, xl := lists(list.obj, list.key)
	n := listLen(vl, xl)
	if len(vals) != n {
		return loc{}, 0, fmt.Errorf("%s selects %d of the %d items of a list, not the list", op.path, len(vals), n)
	}
	return list, n, nil
}

// emptyList handles an insert or move path that selects nothing.
func (d *doc) emptyList(op operation) (loc, int, error) {
	notFound := fmt.Errorf("no content found at %s", op.path)
	i := strings.LastIndexByte(op.path, '.')
	if op.typ != "insert" || i < 0 || !isName(op.path[i+1:]) {
		return loc{}, 0, notFound
	}
	parent, err := fhirpath.Compile(op.path[:i])
	if err != nil {
		return loc{}, 0, notFound
	}
	pop := op
	pop.path, pop.expr = op.path[:i], parent
	l, err := d.selectOne(pop)
	if err != nil {
		return loc{}, 0, notFound
	}
	o, ok := get(l).(*jsontree.Object)
	if l.obj == nil {
		o, ok = d.root, true
	}
	if !ok {
		return loc{}, 0, notFound
	}
	name := op.path[i+1:]
	e, err := elementDef(d.defOf(o), name)
	if err != nil || e.Choice || !e.Repeats() {
		return loc{}, 0, notFound
	}
	return loc{obj: o, key: name, idx: -1, def: d.defOf(o)}, 0, nil
}

// insert inserts v at index i of the list at l, which has n items.
func (d *doc) insert(l loc, n, i int, v *value) error {
	if i > n {
		return fmt.Errorf("index %d is beyond the end of the list (%d items)", i, n)
	}
	jv, err := build(v, l.def+"."+l.key)
	if err != nil {
		return err
	}
	vals, exts := lists(l.obj, l.key)
	insertAt(l.obj, l.key, vals, exts, n, i, jv, v.ext)
	return nil
}

// move moves item src of the list at l, which has n items, to index dst.
func move(l loc, n, src, dst int) error {
	if src >= n || dst >= n {
		return fmt.Errorf("source %d or destination %d is beyond the end of the list (%d items)", src, dst, n)
	}
	vals, exts := lists(l.obj, l.key)
	for _, a := range []*jsontree.Array{vals, exts} {
		if a == nil {
			continue
		}
		pad(a, n)
		item := a.Elems[src]
		a.Elems = append(a.Elems[:src], a.Elems[src+1:]...)
		a.Elems = insertItem(a.Elems, dst, item)
	}
	return nil
}
