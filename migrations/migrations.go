// Package migrations holds the embedded SQL schema of each storage backend,
// one numbered file per step (NNN_name.sql), applied in order by the stores on
// start and by `yiyang migrate`, each step in its own transaction and recorded
// in the schema_migrations table.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// For returns the migrations of a backend ("sqlite" or "postgres") in order.
func For(backend string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, backend)
	if err != nil {
		return nil, fmt.Errorf("migrations: unknown backend %q: %w", backend, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s/%s: name must be NNN_description.sql", backend, name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s: version %d used by %s and %s", backend, v, prev, name)
		}
		seen[v] = name
		body, err := files.ReadFile(path.Join(backend, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
