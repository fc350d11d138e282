// Package search parses FHIR R4 search requests into a typed AST that knows
// no SQL: filters with their modifiers, prefixes and OR values, chains,
// reverse chains (_has) and the result parameters (_sort, _count, _include,
// _revinclude, _summary, _elements, _total). Parameter definitions come from a
// Registry passed in explicitly; store implementations compile the AST.
package search

import (
	"math/big"
	"time"
)

// Limits keep every query bounded: a request beyond them is refused with
// ErrInvalid, never run.
const (
	MaxOrValues    = 100 // values of one parameter, comma-separated
	MaxFilters     = 64  // parameters of one request, chained ones included
	MaxChainDepth  = 4   // subject.organization.partof.name is depth 3
	MaxHasDepth    = 3   // nested _has
	MaxIncludes    = 20  // _include plus _revinclude
	MaxSortKeys    = 8
	MaxCount       = 1000
	DefaultCount   = 50
	MaxValueLength = 1024
)

// ParamDef is what the parser needs to know about a search parameter.
type ParamDef struct {
	Code string
	// Type: number, date, string, token, reference, composite, quantity, uri, special.
	Type string
	// Targets are the resource types a reference parameter can point to.
	Targets []string
	// Components are the types of a composite parameter's parts, in order.
	Components []ParamDef
}

// Registry looks up the search parameters of a resource type. The type ""
// is system-level search: only parameters common to all resources apply.
type Registry interface {
	Lookup(resourceType, code string) (ParamDef, bool)
}

// Query is one parsed search.
type Query struct {
	// Type is the resource type searched; "" for a system-level search.
	Type string
	// Filters are ANDed.
	Filters []Filter
	Sort    []SortKey
	// Count is the page size (DefaultCount when not given).
	Count       int
	Includes    []Include
	RevIncludes []Include
	// Total is none, estimate or accurate ("" when not given).
	Total string
	// Summary is true, text, data, count or false ("" when not given).
	Summary string
	// Elements lists the top-level elements to return (empty: all).
	Elements []string
	// Cursor continues a previous page (opaque to this package).
	Cursor string
	// Ignored lists parameters dropped under lenient handling.
	Ignored []string
	// Compartment, when set, limits the search to a compartment
	// (Patient/123/Observation).
	Compartment *Compartment
	// ExcludeLabels leaves out the matches carrying any of these security
	// labels (system|code, see resources.Label): the server's exclusion of sensitive resources
	// for principals who may not see them. It tests the row's labels column
	// (resources.Index.SecurityLabels), as _security:not would but without
	// a subquery. It also holds for every resource the search reads on the
	// way (chains, _has, _include, _revinclude).
	ExcludeLabels []string
	// ExcludeReached holds those labels for the resources the search reads
	// on the way only, not for its matches: conditional operations find
	// their labelled targets (to refuse them explicitly) but may not learn
	// anything through labelled resources they may not see.
	ExcludeReached []string
}

// Compartment is a compartment search's owner and, per resource type in the
// compartment, the reference parameters that link a resource to it ("{def}"
// means the owner itself).
type Compartment struct {
	Type, ID string
	Params   map[string][]string
}

// Filter is one search parameter: its values are ORed.
type Filter struct {
	Param ParamDef
	// Modifier without the colon: exact, contains, missing, not, text, above,
	// below, in, not-in, identifier, of-type; "" for none. A resource type
	// modifier (subject:Patient) is in TargetType instead.
	Modifier   string
	TargetType string
	// Chain, when set, applies to the resources this reference parameter
	// points to (subject.name=x or subject:Patient.name=x); Values is empty.
	Chain *Chain
	// Has, when set, is a reverse chain (_has:Observation:patient:code=x);
	// Param and Values are empty.
	Has *Has
	// Missing is the value of :missing.
	Missing bool
	Values  []Value
}

// Chain is the part of a chained parameter after the dot.
type Chain struct {
	// Type is the target resource type, explicit or the parameter's single target.
	Type   string
	Filter Filter
}

// Has is a reverse chain: resources of Type whose parameter Param refers to
// the searched resource and which match Filter.
type Has struct {
	Type   string
	Param  ParamDef
	Filter Filter
}

// Prefix is a comparison prefix of number, date and quantity values.
type Prefix string

// The prefixes of FHIR R4 search.
const (
	Eq Prefix = "eq"
	Ne Prefix = "ne"
	Gt Prefix = "gt"
	Lt Prefix = "lt"
	Ge Prefix = "ge"
	Le Prefix = "le"
	Sa Prefix = "sa"
	Eb Prefix = "eb"
	Ap Prefix = "ap"
)

// Value is one OR value of a filter; which fields are set depends on the
// parameter type.
type Value struct {
	// Raw is the value as sent, unescaped.
	Raw    string
	Prefix Prefix
	// Number, date and quantity: the interval the value stands for, given its
	// precision (e.g. 100 is [99.5, 100.5), 2024-03 is the month).
	Number     *Range
	Start, End time.Time
	// Token and quantity: System is set when the value had a "|".
	System    string
	HasSystem bool
	Code      string
	// Reference: a relative reference Type/ID (Type may be empty), or URL.
	RefType, RefID, RefVersion, URL string
	// Text is the string, uri or :text value.
	Text string
	// Components of a composite value.
	Components []Value
	// Codes are what a token :in, :not-in, :below or :above value stands
	// for, filled by Resolve (Resolved: an empty list then matches nothing).
	Codes    []Coding
	Resolved bool
}

// Range is a closed-open decimal interval [Low, High) plus the exact value.
type Range struct {
	Value, Low, High *big.Rat
}

// SortKey is one _sort key.
type SortKey struct {
	Param      ParamDef
	Descending bool
}

// Include is an _include or _revinclude: resources of Source whose Param
// references (TargetType, when set) resources in the result.
type Include struct {
	Source  string
	Param   ParamDef
	Target  string
	Iterate bool
	// Wildcard is true for Source:*.
	Wildcard bool
	// Types, when not nil, are the only resource types an _include may
	// return (the caller's readable types, set by the server); an
	// _revinclude ignores it.
	Types []string
}
