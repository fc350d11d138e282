package main

import (
	"strconv"

	"bytes"
	"github.com/meizhou-yiyang/yiyang/conformance/r4"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// committed is where the generated tables are committed.
const committed = "../../r4"

// coreOrSkip returns the core package directory, skipping the test when it
// is missing, unless CI is set: CI must check the committed tables.
func coreOrSkip(t *testing.T) string {
	t.Helper()
	dir, err := findCore("")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the core package is missing: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return dir
}

// TestReproducible runs the generator into a temporary directory and
// compares its output byte for byte with the committed tables.
func TestReproducible(t *testing.T) {
	core := coreOrSkip(t)
	out := t.TempDir()
	if err := run(core, out); err != nil {
		t.Fatal(err)
	}
	generated, err := filepath.Glob(filepath.Join(out, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := filepath.Glob(filepath.Join(committed, "*_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names, committedNames []string
	for _, f := range generated {
		names = append(names, filepath.Base(f))
	}
	for _, f := range onDisk {
		committedNames = append(committedNames, filepath.Base(f))
	}
	if !slices.Equal(names, committedNames) {
		t.Errorf("generated %v, committed %v", names, committedNames)
	}
	header := regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(got, []byte("\n"))
		if !header.Match(first) {
			t.Errorf("%s: first line %q is no generated-code header", name, first)
		}
		want, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed file: run `go generate ./conformance/...`", name)
		}
	}
}

// TestDeterministic generates twice and compares.
func TestDeterministic(t *testing.T) {
	core := coreOrSkip(t)
	a, err := generate(core)
	if err != nil {
		t.Fatal(err)
	}
	b, err := generate(core)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between runs", a[i].Name)
		}
	}
}

func TestMissingCore(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	if err := run(missing, dir); err == nil || !strings.Contains(err.Error(), "not the FHIR R4 core package") {
		t.Errorf("run with a missing -core: %v", err)
	}
	t.Setenv(envCore, missing)
	if _, err := findCore(""); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("findCore with %s pointing nowhere: %v", envCore, err)
	}
}

func TestEncodeElement(t *testing.T) {
	var e elementDefinition
	e.Path, e.Min, e.Max = "Observation.subject", 0, "1"
	e.Type = []elementType{{Code: "Reference", TargetProfile: []string{sdPrefix + "Patient", sdPrefix + "Group"}}}
	got, err := encodeElement("Observation", e)
	if err != nil || got != "0..1\tReference(Patient|Group)" {
		t.Errorf("encodeElement = %q, %v", got, err)
	}
	e.IsSummary = true
	if got, err := encodeElement("Observation", e); err != nil || got != "0..1\tReference(Patient|Group)\tΣ" {
		t.Errorf("encodeElement of a summary element = %q, %v", got, err)
	}
	e.Type = append(e.Type, e.Type[0])
	if _, err := encodeElement("Observation", e); err == nil {
		t.Error("several types on a non-choice element accepted")
	}
}

// TestLossless checks that the tables, read back through package r4, give
// every snapshot element of every core type its published cardinality, types,
// targets and contentReference, including the inherited elements the table
// leaves out.
func TestLossless(t *testing.T) {
	core := coreOrSkip(t)
	sds, err := readAll[structureDefinition](core, "StructureDefinition-")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sd := range sds {
		if sd.Derivation == "constraint" || sd.URL != sdPrefix+sd.Type ||
			(sd.Kind != "resource" && sd.Kind != "complex-type" && sd.Kind != "primitive-type") {
			continue
		}
		for _, e := range sd.Snapshot.Element {
			if e.Path == sd.Type {
				continue
			}
			n++
			enc, err := encodeElement(sd.Type, e)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := r4.LookupElement(e.Path)
			if !ok {
				t.Errorf("%s not found", e.Path)
				continue
			}
			if want := expected(enc); !sameElement(got, want) {
				t.Errorf("%s: read back %+v, published %q", e.Path, got, enc)
			}
		}
	}
	if n < 7000 {
		t.Errorf("only %d elements checked", n)
	}
}

// expected decodes an encoded element line the way package r4 documents
// it: targets of all types merged, without duplicates.
func expected(enc string) r4.Element {
	card, types, _ := strings.Cut(enc, "\t")
	lo, hi, _ := strings.Cut(card, "..")
	var e r4.Element
	types, e.Summary = strings.CutSuffix(types, "\t"+summaryMark)
	e.Min, _ = strconv.Atoi(lo)
	e.Max = hi
	if strings.HasPrefix(types, "#") {
		e.ContentRef = types
		return e
	}
	for types != "" {
		typ := types
		if i := strings.IndexAny(types, "|("); i >= 0 {
			typ = types[:i]
		}
		e.Types = append(e.Types, typ)
		types = types[len(typ):]
		if rest, ok := strings.CutPrefix(types, "("); ok {
			targets, after, _ := strings.Cut(rest, ")")
			for _, tg := range strings.Split(targets, "|") {
				if !slices.Contains(e.Targets, tg) {
					e.Targets = append(e.Targets, tg)
				}
			}
			types = after
		}
		types = strings.TrimPrefix(types, "|")
	}
	return e
}

func sameElement(a, b r4.Element) bool {
	return a.Min == b.Min && a.Max == b.Max && a.ContentRef == b.ContentRef && a.Summary == b.Summary &&
		slices.Equal(a.Types, b.Types) && slices.Equal(a.Targets, b.Targets)
}
