// Package fhirdata locates the shared FHIR reference data (the official
// examples, test suites and Synthea bundles in ../shared/fhir) for tests.
// The project never needs it to build or run; tests that read it skip
// without it, except in CI, where its absence is a failure.
package fhirdata

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvVar overrides where the data is: the path of the shared fhir folder.
const EnvVar = "YIYANG_FHIR_TESTDATA"

// Dir returns $YIYANG_FHIR_TESTDATA, or the first shared/fhir found walking
// up from the working directory, or "" when there is none.
func Dir() string {
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "shared", "fhir")); err == nil && st.IsDir() {
			return filepath.Join(dir, "shared", "fhir")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Require returns Dir, skipping t when there is no data (failing it in CI,
// where the data must be present).
func Require(t testing.TB) string {
	t.Helper()
	d := Dir()
	if d == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("shared FHIR test data not found in CI: set " + EnvVar + " to the shared/fhir folder")
		}
		t.Skip("shared FHIR test data not found: set " + EnvVar + " to the shared/fhir folder to run this test")
	}
	return d
}
