// Command gen turns the official FHIR R4 core package into the compact tables
// of package conformance/r4: element paths and types of every core resource
// and datatype, every SearchParameter, and the Patient, Encounter,
// Practitioner, RelatedPerson and Device compartments.
//
// It is run by `go generate ./...` (see conformance/r4/r4.go):
//
//	go run ../internal/gen -out .
//
// The core package is found with -core, else $YIYANG_FHIR_R4CORE, else in
// $YIYANG_FHIR_TESTDATA/r4-core, else by looking for shared/fhir/r4-core in
// the working directory and its parents.
// The output depends only on the package's content: records are sorted or kept
// in package order, nothing is taken from the clock or from map iteration.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// envCore names the environment variable that points at the core package;
// envTestData is the shared FHIR data folder the tests and CI use
// (conformance/fhirdata), whose r4-core is the package.
const (
	envCore     = "YIYANG_FHIR_R4CORE"
	envTestData = "YIYANG_FHIR_TESTDATA"
)

func main() {
	core := flag.String("core", "", "directory of the FHIR R4 core package (default: $"+envCore+", else shared/fhir/r4-core in the working directory or a parent)")
	out := flag.String("out", ".", "directory to write the generated Go files to")
	flag.Parse()
	if err := run(*core, *out); err != nil {
		fmt.Fprintln(os.Stderr, "conformance/internal/gen:", err)
		os.Exit(1)
	}
}

func run(core, out string) error {
	dir, err := findCore(core)
	if err != nil {
		return err
	}
	files, err := generate(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// findCore returns the core package directory: flag, then environment, then
// shared/fhir/r4-core in the working directory or one of its parents.
func findCore(flagDir string) (string, error) {
	shared := ""
	if d := os.Getenv(envTestData); d != "" {
		shared = filepath.Join(d, "r4-core")
	}
	for _, d := range []string{flagDir, os.Getenv(envCore), shared} {
		if d == "" {
			continue
		}
		if err := checkCore(d); err != nil {
			return "", err
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		c := filepath.Join(d, "shared", "fhir", "r4-core")
		if checkCore(c) == nil {
			return c, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", errors.New("FHIR R4 core package not found: looked for shared/fhir/r4-core in " + wd +
		" and its parents; pass -core DIR or set " + envCore +
		" (generation is a developer step; building and testing need only the committed tables)")
}

// checkCore reports whether dir looks like the R4 core package.
func checkCore(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return fmt.Errorf("%s is not the FHIR R4 core package: %w", dir, err)
	}
	return nil
}
