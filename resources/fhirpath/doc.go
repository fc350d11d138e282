// Package fhirpath is Yiyang's FHIRPath engine (FHIRPath 2.0 as used by FHIR
// R4, plus the 2.1 functions the official R4 suite exercises).
//
// Expressions are compiled once and evaluated many times:
//
//	expr, err := fhirpath.Compile("Observation.value.ofType(Quantity)")
//	res, err := fhirpath.DecodeJSON(body)            // once per resource
//	vals, err := expr.Evaluate(&fhirpath.Context{Resource: res, Model: model})
//
// Evaluation works on the decoded JSON tree (numbers kept as decimal text,
// primitive extensions "_name" kept beside their values). An optional Model
// (generated from the R4 StructureDefinitions elsewhere) types the tree, so
// that choice elements (value[x]), is/as/ofType and type() follow FHIR types;
// without a Model the engine infers types from the JSON shape. Results are
// *Element values (tree nodes with their FHIR type) or System values
// (Boolean, String, Integer, Decimal, Date, DateTime, Time, Quantity);
// ToSystem converts primitives.
//
// Errors are *Error values with a kind (syntax, semantic, execution) and a
// position. Compile bounds expression length and nesting; evaluation is
// bounded by a work budget (Context.MaxSteps) and collection and string
// size limits, so hostile expressions fail instead of running away.
//
// Not supported: memberOf (no terminology: the result is empty), conformsTo
// for profiles other than the core resource definitions (execution error),
// and the specification's strict "ordered functions" check.
package fhirpath
