package fhirpath

import (
	"hash/maphash"
)

// Limits that keep evaluation bounded on hostile input.
const (
	maxCollection = 200000  // items in one intermediate collection
	maxStringLen  = 1 << 20 // bytes in a computed string
)

var hashSeed = maphash.MakeSeed()

// valueHash returns a hash consistent with valuesEqual for the values where
// that is cheap to guarantee; ok is false for the others (quantities and
// temporal values, whose equality involves conversion).
func valueHash(v Value) (uint64, bool) {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	if el, isEl := v.(*Element); isEl {
		sv, _ := system(el)
		if _, still := sv.(*Element); still {
			hashNode(&h, el.node)
			return h.Sum64(), true
		}
		v = sv
	}
	switch x := v.(type) {
	case Boolean:
		if x {
			h.WriteString("b1")
		} else {
			h.WriteString("b0")
		}
	case String:
		h.WriteString("s")
		h.WriteString(string(x))
	case Integer:
		h.WriteString("n")
		h.WriteString(DecimalFromInt(int64(x)).String())
	case Decimal:
		h.WriteString("n")
		h.WriteString(x.trim(0).String())
	default:
		return 0, false
	}
	return h.Sum64(), true
}

func hashNode(h *maphash.Hash, n *Node) {
	if n == nil {
		h.WriteByte(0)
		return
	}
	h.WriteByte(byte(n.kind) + 1)
	switch n.kind {
	case kindString, kindBool:
		h.WriteString(n.str)
		if n.b {
			h.WriteByte(1)
		}
	case kindNumber:
		if d, ok := ParseDecimal(n.str); ok {
			h.WriteString(d.trim(0).String())
		}
	case kindArray:
		for _, it := range n.items {
			hashNode(h, it)
		}
	case kindObject:
		// order-independent combination of members
		var sum uint64
		for _, f := range n.fields {
			var fh maphash.Hash
			fh.SetSeed(hashSeed)
			fh.WriteString(f.name)
			hashNode(&fh, f.val)
			sum += fh.Sum64()
		}
		var b [8]byte
		for i := range b {
			b[i] = byte(sum >> (8 * i))
		}
		h.Write(b[:])
	}
}

// valueSet records values for duplicate detection with '=' semantics.
type valueSet struct {
	items   []Value
	buckets map[uint64][]int
	slow    []int // indexes of values without a hash
}

// add records v and reports whether it was not present yet.
func (s *valueSet) add(v Value) bool {
	if s.buckets == nil && len(s.items) < 16 {
		if containsValue(s.items, v) {
			return false
		}
		s.items = append(s.items, v)
		return true
	}
	if s.buckets == nil {
		old := s.items
		s.items, s.buckets = nil, map[uint64][]int{}
		for _, o := range old {
			s.add(o)
		}
	}
	h, ok := valueHash(v)
	candidates := s.slow
	if ok {
		candidates = s.buckets[h]
	}
	for _, i := range candidates {
		if eq, ok := valuesEqual(s.items[i], v); ok && eq {
			return false
		}
	}
	if ok {
		s.buckets[h] = append(s.buckets[h], len(s.items))
	} else {
		s.slow = append(s.slow, len(s.items))
	}
	s.items = append(s.items, v)
	return true
}

// dedupe returns the values of the collections without duplicates, in order.
func dedupe(colls ...[]Value) []Value {
	var s valueSet
	for _, c := range colls {
		for _, v := range c {
			s.add(v)
		}
	}
	return s.items
}

func tooLarge(pos int) error {
	return execErr(pos, "collection exceeds %d items", maxCollection)
}
