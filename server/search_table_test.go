package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// tcase is one row of TestSearchTable. A row with want is a search whose
// matches the oracle computes from the stored JSON; a row without want is
// malformed input that must be refused with a 400 OperationOutcome.
type tcase struct {
	cat   string
	query string
	want  func(k string, m map[string]any) bool
	// order, when set, is the _sort of the query: consecutive matches must
	// not be out of order.
	order []sortSpec
	// incl, when set, returns the keys _include/_revinclude must add.
	incl func(matches []string) []string
	// shape, when set, checks every returned match resource.
	shape func(m map[string]any) bool
	// countOnly: _summary=count, a total and no entries.
	countOnly bool
	// none: the oracle expects no match.
	none bool
	// outcome is a diagnostic substring expected for malformed input.
	outcome string
}

// sortSpec is one _sort key: vals gives a resource's values (strings or
// float64); ascending keys sort by the least, descending by the greatest,
// and resources without a value come last either way.
type sortSpec struct {
	desc bool
	vals func(m map[string]any, desc bool) []any
}

// fixtures holds the Synthea resources the cases name and the hand-made ones.
type fixtures struct {
	all                      map[string]map[string]any
	atencio, liz, zoe, zhang string // Patient keys
	renee, linked            string
	prac, org                string // general practitioner and organization of zoe
	enc                      string // an Encounter of atencio
	base                     string // the server's base URL
}

// TestSearchTable runs the search table on both backends, checking every
// case against its oracle, paging through all pages, and compares the
// backends' results.
func TestSearchTable(t *testing.T) {
	results := map[string][]string{}
	var categories map[string]int
	eachBackend(t, func(t *testing.T, c *client) {
		start := time.Now()
		fx := loadTableFixtures(t, c)
		cases := tableCases(fx)
		categories = map[string]int{}
		var canon []string
		for i, tc := range cases {
			categories[tc.cat]++
			var out string
			t.Run(fmt.Sprintf("%03d_%s", i, tc.cat), func(t *testing.T) {
				t.Log(tc.query)
				if tc.want == nil {
					out = runMalformed(t, c, tc)
				} else {
					out = runTableCase(t, c, fx.all, tc)
				}
			})
			canon = append(canon, fmt.Sprintf("%03d %s %s", i, tc.cat, out))
		}
		results[t.Name()[strings.LastIndex(t.Name(), "/")+1:]] = canon
		t.Logf("%d cases in %s", len(cases), time.Since(start).Round(time.Millisecond))
	})
	t.Logf("cases by category: %v", categories)
	a, b := results["sqlite"], results["postgres"]
	if a == nil || b == nil {
		return
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			t.Errorf("backends differ:\n sqlite   %.400s\n postgres %.400s", a[i], b[i])
		}
	}
}

// runMalformed checks that bad input is a quick 400 with an OperationOutcome.
func runMalformed(t *testing.T, c *client, tc tcase) string {
	start := time.Now()
	res := c.do(http.MethodGet, "/"+tc.query, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered in %s: unbounded?", d)
	}
	if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), `"OperationOutcome"`) {
		t.Fatalf("got %d %.400s, want 400 with an OperationOutcome", res.status, res.body)
	}
	if !strings.Contains(string(res.body), tc.outcome) {
		t.Errorf("outcome lacks %q: %.400s", tc.outcome, res.body)
	}
	return "400"
}

// malformedCases must be refused with 400 and an OperationOutcome, quickly.
func malformedCases(fx *fixtures) []tcase {
	var or1000 []string
	for i := range 1000 {
		or1000 = append(or1000, fmt.Sprint("v", i))
	}
	deep := strings.Repeat("_has:Patient:link:", 4) + "gender=male"
	loop := strings.Repeat("_has:Patient:link:", 40) + "gender=male"
	bad := func(q, outcome string) tcase { return tcase{cat: "malformed", query: q, outcome: outcome} }
	return []tcase{
		bad("Patient?birthdate=1990-13", "birthdate"),
		bad("Patient?birthdate=xx1990", "birthdate"),
		bad("Patient?birthdate=gt", "birthdate"),
		bad("Observation?date=2024-02-30", "date"),
		bad("Patient?birthdate=1990-01-01T25:00", "birthdate"),
		bad("Patient?_lastUpdated=yesterday", "_lastUpdated"),
		bad("Patient?name:fuzzy=x", "fuzzy"),
		bad("Patient?gender:exact=male", "exact"),
		bad("Patient?name.family=x", "chained"),
		bad("Observation?code.system=x", "chained"),
		bad("Patient?"+deep, "_has"),
		bad("Patient?"+loop, "_has"),
		bad("Patient?_has:Observation:code:code=x", "_has"),
		bad("Patient?_has:Nope:patient:code=x", "_has"),
		bad("Patient?_has:Observation:patient=x", "_has"),
		bad("Observation?encounter:Encounter.part-of.part-of.part-of.part-of.status=finished", "deep"),
		bad("Patient?identifier="+strings.Join(or1000, ","), "at most"),
		bad("Patient?name="+strings.Repeat("a", 2000), "longer"),
		bad("Patient?_count=-1", "_count"),
		bad("Patient?_count=many", "_count"),
		bad("Patient?_sort=unknown", "unknown"),
		bad("Patient?_sort=-", "_sort"),
		bad("Patient?_include=Patient:name", "_include"),
		bad("Patient?_include=Nope:subject", "_include"),
		bad("Patient?_include=Patient", "_include"),
		bad("Patient?_revinclude=Observation:code", "_revinclude"),
		bad("Patient?_include:recurse=Patient:link", "_include"),
		bad("Patient?_cursor=zzz", "cursor"),
		bad("Patient?_cursor=WyJzMSJd", "cursor"),
		bad("Patient?_cursor=WyJpMSIsImkyIl0", "cursor"),
		bad("Patient?_total=maybe", "_total"),
		bad("Patient?_text:exact=synthea", "_text"),
		bad("Patient?_list=$current-problems", "_list"),
		bad("Patient?_summary=bogus", "_summary"),
		bad("Patient?_elements=na%20me", "_elements"),
		bad("Patient?_contained=true", "_contained"),
		bad("Observation?code:in=http://example.org/vs", "in"),
		bad("Observation?code:below=8302", "below"),
		bad("Observation?subject:Medication=x", "Medication"),
		bad("Observation?value-quantity=abc", "value-quantity"),
		bad("Observation?value-quantity=gt1|a|b|c", "value-quantity"),
		bad("RiskAssessment?probability=1e5000", "probability"),
		bad("Observation?subject=a/b/c", "subject"),
		bad("Patient?identifier=a|b|c", "identifier"),
		bad("Patient?gender:missing=maybe", "missing"),
		bad("Patient?colour=red", "colour"),
		bad("Observation?subject:fuzzy=x", "fuzzy"),
		bad("Patient?_include=*", "_include"),
		bad("Patient?"+strings.Repeat("gender=male&", 70)+"gender=male", "at most"),
		bad(fx.atencio+"/Observation?code=8302-2&date=2024-13", "date"),
	}
}

// runTableCase pages through a search and compares it with its oracle; it
// returns the result as a canonical string of stable identities.
func runTableCase(t *testing.T, c *client, all map[string]map[string]any, tc tcase) string {
	path, _, _ := strings.Cut(tc.query, "?")
	segs := strings.Split(path, "/")
	typ := segs[len(segs)-1]
	var want []string
	for k, m := range all {
		if (typ == "*" || strings.HasPrefix(k, typ+"/")) && tc.want(k, m) {
			want = append(want, k)
		}
	}
	sort.Strings(want)
	q := tc.query
	if !strings.Contains(q, "?") {
		q += "?"
	}
	if !strings.Contains(q, "_count=") {
		q += fmt.Sprintf("&_count=%d", max(4, len(want)/10+1))
	}
	if !strings.Contains(q, "_total=") {
		q += "&_total=accurate"
	}
	if tc.countOnly {
		res := c.do(http.MethodGet, "/"+q, nil)
		var b struct {
			Total *int
			Entry []any
		}
		if err := json.Unmarshal(res.body, &b); err != nil || res.status != 200 || b.Total == nil || *b.Total != len(want) || len(b.Entry) > 0 {
			t.Fatalf("_summary=count: %d %.300s, want total %d and no entries", res.status, res.body, len(want))
		}
		return fmt.Sprint("count ", len(want))
	}
	got, included, total := searchAll(t, c, "/"+q)
	if strings.Contains(q, "_total=accurate") && total != len(want) {
		t.Errorf("total %d, want %d", total, len(want))
	}
	gotSorted := append([]string(nil), got...)
	sort.Strings(gotSorted)
	if fmt.Sprint(gotSorted) != fmt.Sprint(want) {
		t.Fatalf("got %d matches, want %d\n got %v\nwant %v\n only got %v\n only want %v", len(got), len(want),
			head(gotSorted), head(want), head(minus(gotSorted, want)), head(minus(want, gotSorted)))
	}
	out := identities(all, got, tc.order == nil)
	for i := 1; i < len(got) && tc.order != nil; i++ {
		if compareBy(tc.order, all[got[i-1]], all[got[i]]) > 0 {
			t.Fatalf("out of order at %d: %s %v before %s %v", i, got[i-1], sortValues(tc.order, all[got[i-1]]), got[i], sortValues(tc.order, all[got[i]]))
		}
	}
	if tc.order != nil {
		var vals []string
		for _, k := range got {
			vals = append(vals, fmt.Sprint(sortValues(tc.order, all[k])))
		}
		out += " order " + strings.Join(vals, ";")
	}
	if tc.incl != nil {
		isMatch := map[string]bool{}
		for _, k := range got {
			isMatch[k] = true
		}
		wantInc := map[string]bool{}
		for _, k := range tc.incl(got) {
			if !isMatch[k] && all[k] != nil {
				wantInc[k] = true
			}
		}
		gotInc := map[string]bool{}
		for _, k := range included {
			gotInc[k] = true
		}
		if w, g := keysOf(wantInc), keysOf(gotInc); fmt.Sprint(w) != fmt.Sprint(g) {
			t.Fatalf("included %d, want %d\n only got %v\n only want %v", len(g), len(w), head(minus(g, w)), head(minus(w, g)))
		}
		if len(wantInc) == 0 {
			t.Errorf("the oracle includes nothing: the case tests nothing")
		}
		out += " included " + identities(all, keysOf(gotInc), true)
	}
	if tc.shape != nil {
		res := c.do(http.MethodGet, "/"+q+"&_count=1000", nil)
		var b struct {
			Entry []struct{ Resource map[string]any }
		}
		json.Unmarshal(res.body, &b)
		for _, e := range b.Entry {
			if !tc.shape(e.Resource) {
				t.Fatalf("bad shape: %.300v", e.Resource)
			}
		}
		if len(b.Entry) == 0 {
			t.Fatalf("no entries to check the shape of: %d %.300s", res.status, res.body)
		}
	}
	if len(want) == 0 && !strings.Contains(tc.query, "missing") && !tc.none {
		t.Errorf("the oracle finds no matches: the case tests nothing")
	}
	return out
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// minus returns the elements of sorted a not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// identities maps server keys to identities that do not depend on the
// backend: the type and a hash of the content without id, meta and
// reference values (server ids differ between backends).
func identities(all map[string]map[string]any, keys []string, sorted bool) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		b, _ := json.Marshal(stripIDs(all[k], true))
		h := sha256.Sum256(b)
		ids[i] = k[:strings.Index(k, "/")] + "#" + hex.EncodeToString(h[:6])
	}
	if sorted {
		sort.Strings(ids)
	}
	return fmt.Sprint(len(ids), ids)
}

func stripIDs(v any, top bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch {
			case top && (k == "id" || k == "meta"):
			case k == "reference":
				out[k] = ""
			default:
				out[k] = stripIDs(val, false)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripIDs(e, false)
		}
		return out
	}
	return v
}

// compareBy compares two resources by sort keys.
func compareBy(keys []sortSpec, a, b map[string]any) int {
	va, vb := sortValues(keys, a), sortValues(keys, b)
	for i, k := range keys {
		x, y := va[i], vb[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		c := cmpAny(x, y)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// sortValues are the values a resource sorts by: per key, the least value
// (ascending) or the greatest (descending), nil when it has none.
func sortValues(keys []sortSpec, m map[string]any) []any {
	out := make([]any, len(keys))
	for i, k := range keys {
		for _, v := range k.vals(m, k.desc) {
			if out[i] == nil || (cmpAny(v, out[i]) < 0) != k.desc {
				out[i] = v
			}
		}
	}
	return out
}

func cmpAny(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// fold is the case- and accent-insensitive form of a string.
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, _ := transform.String(t, s)
	return strings.ToLower(out)
}

// strs returns the string values at path.
func strs(m any, path ...string) []string {
	var out []string
	for _, v := range field(m, path...) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// nameParts are the strings a HumanName parameter indexes.
func nameParts(m any, elem string) []string {
	var out []string
	for _, p := range []string{"family", "given", "prefix", "suffix", "text"} {
		out = append(out, strs(m, elem, p)...)
	}
	return out
}

// matchStr applies string search semantics (mode "", exact or contains).
func matchStr(vals []string, mode, q string) bool {
	for _, v := range vals {
		switch mode {
		case "exact":
			if v == q {
				return true
			}
		case "contains":
			if strings.Contains(fold(v), fold(q)) {
				return true
			}
		default:
			if strings.HasPrefix(fold(v), fold(q)) {
				return true
			}
		}
	}
	return false
}

// dateRange returns the interval, in microseconds, a FHIR date, dateTime or
// instant covers at its precision.
func dateRange(s string) (lo, hi int64, ok bool) {
	for _, l := range []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{time.RFC3339Nano, nil},
	} {
		t, err := time.Parse(l.layout, s)
		if err != nil {
			continue
		}
		if l.step != nil {
			return t.UnixMicro(), l.step(t).UnixMicro() - 1, true
		}
		unit := time.Second
		if i := strings.IndexByte(s, '.'); i >= 0 {
			for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9' && unit > time.Microsecond; j++ {
				unit /= 10
			}
		}
		return t.UnixMicro(), t.UnixMicro() + unit.Microseconds() - 1, true
	}
	return 0, 0, false
}

// matchDate applies a prefixed date search value to a target interval.
func matchDate(q string, lo, hi int64) bool {
	p, v := splitPfx(q)
	slo, shi, ok := dateRange(v)
	if !ok {
		panic("bad oracle date " + q)
	}
	switch p {
	case "ne":
		return !(lo >= slo && hi <= shi)
	case "gt":
		return hi > shi
	case "lt":
		return lo < slo
	case "ge":
		return hi >= slo
	case "le":
		return lo <= shi
	case "sa":
		return lo > shi
	case "eb":
		return hi < slo
	case "ap":
		gap := time.Now().UnixMicro() - slo
		slack := max(int64(math.Abs(float64(gap))/10), 24*time.Hour.Microseconds())
		return lo <= shi+slack && hi >= slo-slack
	}
	return lo >= slo && hi <= shi
}

func splitPfx(q string) (string, string) {
	if len(q) > 2 && strings.Contains("eq ne gt lt ge le sa eb ap", q[:2]) && q[0] >= 'a' && q[0] <= 'z' {
		return q[:2], q[2:]
	}
	return "eq", q
}

// dates applies a date search value to the date elements at path (a date,
// dateTime or Period).
func dates(m any, q string, path ...string) bool {
	for _, v := range field(m, path...) {
		var lo, hi int64
		switch x := v.(type) {
		case string:
			var ok bool
			if lo, hi, ok = dateRange(x); !ok {
				continue
			}
		case map[string]any:
			lo, hi = math.MinInt64, math.MaxInt64
			if s, _ := x["start"].(string); s != "" {
				lo, _, _ = dateRange(s)
			}
			if s, _ := x["end"].(string); s != "" {
				_, hi, _ = dateRange(s)
			}
		default:
			continue
		}
		if matchDate(q, lo, hi) {
			return true
		}
	}
	return false
}

// matchNum applies a prefixed number value to x; eq and ne use the
// precision of the value (100 is [99.5, 100.5)).
func matchNum(q string, x float64) bool {
	p, v := splitPfx(q)
	var s float64
	fmt.Sscan(v, &s)
	half := 0.5
	if i := strings.IndexByte(v, '.'); i >= 0 {
		half = 0.5 * math.Pow(10, -float64(len(v)-i-1))
	}
	switch p {
	case "ne":
		return x < s-half || x >= s+half
	case "gt", "sa":
		return x > s
	case "lt", "eb":
		return x < s
	case "ge":
		return x >= s
	case "le":
		return x <= s
	case "ap":
		return math.Abs(x-s) <= math.Abs(s)/10
	}
	return x >= s-half && x < s+half
}

// nums applies a number value to the numbers at path.
func nums(m any, q string, path ...string) bool {
	for _, v := range field(m, path...) {
		if f, ok := v.(float64); ok && matchNum(q, f) {
			return true
		}
	}
	return false
}

// deref returns the resources the references at path point to.
func deref(all map[string]map[string]any, m any, path ...string) []any {
	var out []any
	for _, r := range strs(m, append(path, "reference")...) {
		if t := all[r]; t != nil {
			out = append(out, t)
		}
	}
	return out
}

// follow returns the keys the resources in from refer to through path
// (nil path: through any reference).
func follow(all map[string]map[string]any, from []string, path ...string) []string {
	var out []string
	for _, k := range from {
		var refs []string
		if path == nil {
			references(all[k], &refs)
		} else {
			refs = strs(all[k], append(path, "reference")...)
		}
		for _, r := range refs {
			if all[r] != nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// referrers returns the keys of typ resources that refer to a key of to
// through path (nil path: through any reference).
func referrers(all map[string]map[string]any, to []string, typ string, path ...string) []string {
	set := map[string]bool{}
	for _, k := range to {
		set[k] = true
	}
	var out []string
	for k, m := range all {
		if !strings.HasPrefix(k, typ+"/") {
			continue
		}
		var refs []string
		if path == nil {
			references(m, &refs)
		} else {
			refs = strs(m, append(path, "reference")...)
		}
		for _, r := range refs {
			if set[r] {
				out = append(out, k)
				break
			}
		}
	}
	return out
}
