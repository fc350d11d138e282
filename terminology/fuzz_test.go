package terminology

import (
	"context"
	"errors"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// fuzzCodeSystem is the stored code system the fuzzed ValueSets may use.
const fuzzCodeSystem = `{"resourceType":"CodeSystem","id":"h","url":"http://example.org/cs/h","status":"active","content":"complete",
"concept":[{"code":"a","property":[{"code":"child","valueCode":"d"}],"concept":[{"code":"b","concept":[{"code":"c"}]}]},
{"code":"d","property":[{"code":"parent","valueCode":"c"},{"code":"flag","valueBoolean":true}]},{"code":"e","concept":[{"code":"e"}]}]}`

// FuzzExpandResource feeds arbitrary JSON to the ValueSet and CodeSystem
// readers: every input expands or is refused with an InvalidError, within
// the limits, and never panics. Seeds are in testdata/fuzz.
func FuzzExpandResource(f *testing.F) {
	f.Add([]byte(`{"resourceType":"ValueSet","url":"http://example.org/vs/x","compose":{"include":[{"system":"http://example.org/cs/h","filter":[{"property":"concept","op":"is-a","value":"a"}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := newMemSource()
		src.add(t, []byte(fuzzCodeSystem))
		src.add(t, []byte(`{"resourceType":"ValueSet","id":"self","url":"http://example.org/vs/self","compose":{"include":[{"valueSet":["http://example.org/vs/self"]}]}}`))
		s := New(src, Config{MaxExpansion: 50, MaxReads: 20})
		ctx := context.Background()
		check := func(what string, err error) {
			var inv *resources.InvalidError
			if err != nil && !errors.As(err, &inv) {
				t.Fatalf("%s: %v is not an InvalidError", what, err)
			}
		}
		e, err := s.ExpandResource(ctx, data)
		check("ExpandResource", err)
		if err == nil && len(e.Contains) > 50 {
			t.Fatalf("%d codes passed a limit of 50", len(e.Contains))
		}
		if src.reads > 20+1 {
			t.Fatalf("%d reads passed a limit of 20", src.reads)
		}
		// The same bytes as a stored code system.
		if cs, err := parseCodeSystem(data); err == nil && cs.url != "" {
			r := resources.Resource{Type: "CodeSystem", ID: "f", VersionID: 1, Data: data}
			src.byURL["CodeSystem "+cs.url] = []resources.Resource{r}
			for _, c := range cs.concepts {
				_, err := s.Descendants(ctx, cs.url, c.code)
				check("Descendants", err)
				_, err = s.Ancestors(ctx, cs.url, c.code)
				check("Ancestors", err)
				break
			}
		}
	})
}
