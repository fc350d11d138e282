// Package r4 holds the FHIR R4 definitions generated from the official core
// package: element types, search parameters and compartments.
//
// The tables live in the *_gen.go files, written by conformance/internal/gen
// from the R4 core package (../shared/fhir/r4-core from the repository root);
// `go generate ./...` rewrites them byte for byte. They are compact text,
// parsed once on first use into indexed structures.
//
// Slices and maps in returned values share the package's tables: callers
// must not modify them.
package r4

//go:generate go run ../internal/gen -out .

import (
	"strings"
	"sync"
)

// tables are the parsed definitions.
type tables struct {
	types map[string]*typeDef
	// resourceTypes are the concrete resource types, sorted.
	resourceTypes []string

	params []SearchParam // sorted by URL
	// byType maps a resource type, abstract ones included, to its
	// parameters by code.
	byType map[string]map[string]int

	compartments map[string]Compartment
}

// load parses the generated tables once.
var load = sync.OnceValue(func() *tables {
	t := &tables{}
	t.parseTypes(typeData)
	t.parseSearchParams(searchParamData, searchParamTargets)
	t.parseCompartments(compartmentData)
	return t
})

// lines returns the non-empty lines of a table.
func lines(data string) []string {
	ls := strings.Split(strings.Trim(data, "\n"), "\n")
	if len(ls) == 1 && ls[0] == "" {
		return nil
	}
	return ls
}

// splitList splits a comma-separated list; empty gives nil.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// badTable reports generated data this package cannot read: a bug in the
// generator, caught by the package's tests, never a runtime condition.
func badTable(table, line, why string) {
	panic("conformance/r4: " + table + ": " + why + ": " + line)
}
