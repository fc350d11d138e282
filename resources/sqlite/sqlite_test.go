package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

func open(t *testing.T) resources.Store {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "y.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "y.db")
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}
