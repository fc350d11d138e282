package fhirpath

import "strings"

// resolve finds the resource a reference points to: ctx.Resolve when set,
// otherwise a contained resource ("#id") of the root, or an entry of a
// Bundle root matched by fullUrl or by type and id. A literal reference
// (Type/id, possibly absolute or versioned) that is not found resolves to a
// stub {"resourceType": Type, "id": id}, so that the SearchParameter idiom
// reference.where(resolve() is Patient) works on a single resource.
func (ec *evalCtx) resolve(ref string) *Node {
	if ec.ctx.Resolve != nil {
		return ec.ctx.Resolve(ref)
	}
	if n := ec.resolveLocal(ref); n != nil {
		return n
	}
	return ec.stub(ref)
}

func (ec *evalCtx) stub(ref string) *Node {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return nil
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return nil
	}
	if m := ec.ctx.Model; m != nil && !m.IsResource(typ) {
		return nil
	}
	return &Node{kind: kindObject, fields: []field{
		{name: "resourceType", val: &Node{kind: kindString, str: typ}},
		{name: "id", val: &Node{kind: kindString, str: id}},
	}}
}

func (ec *evalCtx) resolveLocal(ref string) *Node {
	root := ec.ctx.Resource
	if root == nil {
		return nil
	}
	if strings.HasPrefix(ref, "#") {
		if ref == "#" {
			return root
		}
		return findContained(root, ref[1:])
	}
	if root.ResourceType() != "Bundle" {
		return nil
	}
	entries := root.get("entry")
	if entries == nil || entries.kind != kindArray {
		return nil
	}
	typeID := ref
	if i := strings.Index(typeID, "/_history/"); i >= 0 {
		typeID = typeID[:i]
	}
	for _, e := range entries.items {
		res := e.get("resource")
		if res == nil {
			continue
		}
		if full := e.getString("fullUrl"); full != "" && full == ref {
			return res
		}
		tid := res.ResourceType() + "/" + res.getString("id")
		if typeID == tid || strings.HasSuffix(typeID, "/"+tid) {
			return res
		}
	}
	return nil
}

func findContained(root *Node, id string) *Node {
	c := root.get("contained")
	if c == nil || c.kind != kindArray {
		return nil
	}
	for _, r := range c.items {
		if r.getString("id") == id {
			return r
		}
	}
	return nil
}
