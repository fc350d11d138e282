package pgtest

import (
	"strings"
	"testing"
)

func TestWithSearchPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u@h:5432/db", "postgres://u@h:5432/db?search_path=s"},
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s&sslmode=disable"},
		{"postgresql://h/db?search_path=old&sslmode=disable", "postgresql://h/db?search_path=s&sslmode=disable"},
		{"host=h dbname=db", "host=h dbname=db search_path=s"},
	}
	for _, tt := range tests {
		got, err := withSearchPath(tt.in, "s")
		if err != nil || got != tt.want {
			t.Errorf("withSearchPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := withSearchPath("postgres://u:secret@h:bad/db", "s"); err == nil {
		t.Error("withSearchPath accepted a malformed URL")
	} else if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error %q leaks the password", got)
	}
}

func TestDSNSchemaIsolation(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two calls returned the same DSN %q", a)
	}
	if err := exec(a, "CREATE TABLE only_here (x int)"); err != nil {
		t.Fatal(err)
	}
	if err := exec(b, "SELECT * FROM only_here"); err == nil {
		t.Fatal("a table created through one DSN is visible through another")
	}
}
