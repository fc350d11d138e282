package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

// maxExampleQueries bounds the queries run per backend; beyond it only the
// first entry per (type, parameter) of each resource is searched.
const maxExampleQueries = 15000

// example is an official example file and its resource type.
type example struct {
	file, typ string
	body      []byte
}

// exampleQuery is a search that must find exactly the resource whose index
// entry it was built from. params holds the filter alone; the runner adds
// _id and _count.
type exampleQuery struct {
	file, typ, param string
	// kind is the index entry's kind: string, token, reference, ...
	kind string
	// entry numbers the parameter's entries in the resource, from 0.
	entry  int
	params string
	// skip, when set, says why the query is not run.
	skip string
}

func (q exampleQuery) key() string { return q.file + " " + q.typ + "?" + q.params }

// searchEscape escapes the characters FHIR search gives a meaning to inside
// a value (R4 search.html#escaping), then URL-encodes the result.
func searchEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `|`, `\|`, `$`, `\$`)
	return url.QueryEscape(r.Replace(s))
}

// decimal renders a float as a FHIR decimal without an exponent, with the
// fewest digits that read back as the same float.
func decimal(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// relativeCanonical is why a canonical that is neither absolute nor Type/id
// (relatedArtifact.resource "library-fhir-helpers-predecessor") is not
// searched: R4 reads a reference search value without "://" as an id or
// Type/id, so whether the stored text should match it is not settled.
const relativeCanonical = "a relative canonical that is not Type/id: the search value would be read as a resource id"

// exactEnough reports whether a float rendered by decimal has few enough
// significant digits for its precision range to survive float arithmetic
// (an eq search compares against [value - half a unit, value + half a unit)).
func exactEnough(s string) bool {
	digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(s), "0")
	return len(digits) <= 12
}

// below is a decimal a little under f, for ge searches that must not depend
// on the last bit of a float.
func below(f float64) string { return decimal(f - max(math.Abs(f), 1)*1e-9) }

// instant renders microseconds since the epoch as an RFC 3339 UTC instant.
func instant(us int64) string { return time.UnixMicro(us).UTC().Format(time.RFC3339Nano) }

// loadExamples reads the official examples that the R4 definitions accept.
func loadExamples(t *testing.T) []example {
	dir := filepath.Join(fhirData(t), "r4-examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", dir, err)
	}
	sort.Strings(files)
	var out []example
	for _, f := range files {
		name := filepath.Base(f)
		if _, bad := invalidExamples[name]; bad {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, example{file: name, typ: head.ResourceType, body: body})
	}
	return out
}

// queriesFor builds, for each stored index entry of a resource, the searches
// that must find it.
func queriesFor(file, typ string, x *resources.Index) []exampleQuery {
	var out []exampleQuery
	seen := map[string]bool{}
	entries := map[string]int{}
	n, kind := 0, ""
	// next starts the queries of the next entry of param, of kind k.
	next := func(k, param string) {
		n, kind = entries[param], k
		entries[param]++
	}
	addSkipped := func(param, key, value, skip string) {
		if value == "" {
			return
		}
		p := key + "=" + value
		if seen[p] {
			return
		}
		seen[p] = true
		out = append(out, exampleQuery{file: file, typ: typ, param: param, kind: kind, entry: n, params: p, skip: skip})
	}
	add := func(param, key, value string) { addSkipped(param, key, value, "") }
	for _, e := range x.Strings {
		if e.Exact == "" {
			continue
		}
		next("string", e.Param)
		prefix := e.Exact
		for i, runes := 0, 0; i < len(e.Exact); runes++ {
			if runes == 3 {
				prefix = e.Exact[:i]
				break
			}
			_, size := utf8.DecodeRuneInString(e.Exact[i:])
			i += size
		}
		add(e.Param, e.Param, searchEscape(prefix))
		add(e.Param, e.Param+":exact", searchEscape(e.Exact))
	}
	for _, e := range x.Tokens {
		// Entries for :identifier and :of-type searches are kept under
		// param:modifier.
		param, mod, _ := strings.Cut(e.Param, ":")
		next("token", param)
		switch {
		case mod == "of-type" && e.Code != "" && e.Text != "":
			add(param, e.Param, searchEscape(e.System)+"|"+searchEscape(e.Code)+"|"+searchEscape(e.Text))
		case mod == "identifier" && (e.System != "" || e.Code != ""):
			// An empty system is named too: |value means "no system".
			add(param, e.Param, searchEscape(e.System)+"|"+searchEscape(e.Code))
		case mod != "":
		case e.System != "":
			add(param, param, searchEscape(e.System)+"|"+searchEscape(e.Code))
		case e.Code != "":
			add(param, param, searchEscape(e.Code))
		}
		if mod == "" && e.Text != "" {
			add(param, param+":text", searchEscape(e.Text))
		}
	}
	for _, e := range x.References {
		next("reference", e.Param)
		switch {
		case e.TargetType != "" && e.TargetID != "":
			add(e.Param, e.Param, searchEscape(e.TargetType+"/"+e.TargetID))
		case e.URL != "" && !strings.Contains(e.URL, "://") && !strings.HasPrefix(e.URL, "urn:"):
			addSkipped(e.Param, e.Param, searchEscape(e.URL), relativeCanonical)
		case e.URL != "":
			add(e.Param, e.Param, searchEscape(e.URL))
		}
	}
	for _, e := range x.Dates {
		next("date", e.Param)
		if e.Low != math.MinInt64 {
			add(e.Param, e.Param, "ge"+url.QueryEscape(instant(e.Low)))
		}
		if e.High != math.MaxInt64 {
			add(e.Param, e.Param, "le"+url.QueryEscape(instant(e.High)))
		}
	}
	for _, e := range x.Numbers {
		next("number", e.Param)
		add(e.Param, e.Param, "ge"+below(e.Value))
		if exactEnough(decimal(e.Value)) {
			add(e.Param, e.Param, decimal(e.Value))
		}
	}
	for _, e := range x.Quantities {
		next("quantity", e.Param)
		if e.Code == "" {
			add(e.Param, e.Param, "ge"+below(e.Value))
			continue
		}
		add(e.Param, e.Param, "ge"+below(e.Value)+"||"+searchEscape(e.Code))
		if e.System != "" && exactEnough(decimal(e.Value)) {
			add(e.Param, e.Param, decimal(e.Value)+"|"+searchEscape(e.System)+"|"+searchEscape(e.Code))
		}
	}
	for _, e := range x.URIs {
		next("uri", e.Param)
		add(e.Param, e.Param, searchEscape(e.URI))
	}
	for _, e := range x.Composites {
		next("composite", e.Param)
		def, ok := search.R4.Lookup(typ, e.Param)
		if !ok || def.Type != "composite" {
			addSkipped(e.Param, e.Param, "unknown", "not a composite parameter of "+typ)
			continue
		}
		value, skip := compositeValue(def, e)
		addSkipped(e.Param, e.Param, value, skip)
	}
	return out
}

// compositeValue is a search value that matches composite entry e: each
// part as its component's own search would find it, joined with $.
func compositeValue(def search.ParamDef, e resources.CompositeEntry) (value, skip string) {
	parts := make([]string, len(def.Components))
	for i, c := range def.Components {
		v := e.Components[i]
		switch c.Type {
		case "token":
			parts[i] = searchEscape(v.Code)
			if v.System != "" {
				parts[i] = searchEscape(v.System) + "|" + parts[i]
			}
		case "quantity":
			parts[i] = "ge" + below(v.Value)
			if v.Code != "" {
				parts[i] += "||" + searchEscape(v.Code)
			}
		case "number":
			parts[i] = "ge" + below(v.Value)
		case "date":
			if v.Low != math.MinInt64 {
				parts[i] = "ge" + url.QueryEscape(instant(v.Low))
			} else {
				parts[i] = "le" + url.QueryEscape(instant(v.High))
			}
		case "string", "uri":
			parts[i] = searchEscape(v.Text)
		case "reference":
			switch {
			case v.System != "" && v.Code != "":
				parts[i] = searchEscape(v.System + "/" + v.Code)
			case !strings.Contains(v.Text, "://") && !strings.HasPrefix(v.Text, "urn:"):
				parts[i], skip = searchEscape(v.Text), relativeCanonical
			default:
				parts[i] = searchEscape(v.Text)
			}
		default:
			return "unknown", "component of type " + c.Type
		}
	}
	return strings.Join(parts, "$"), skip
}

// sampleQueries keeps the queries of the first entry per (type, parameter)
// of each resource.
func sampleQueries(qs []exampleQuery) []exampleQuery {
	var out []exampleQuery
	for _, q := range qs {
		if q.entry == 0 {
			out = append(out, q)
		}
	}
	return out
}

// queryOutcome is what one search answered: "found", or what went wrong.
type queryOutcome struct {
	outcome string
	// class is the outcome without server ids, to compare backends.
	class  string
	skip   string // non-empty: the server refuses this kind of search, with why
	failed bool
}

// runExampleQuery searches for the resource typ/id and classifies the answer.
func runExampleQuery(ctx context.Context, c *client, q exampleQuery, id string) queryOutcome {
	path := "/" + q.typ + "?" + q.params + "&_id=" + url.QueryEscape(id) + "&_count=5"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return queryOutcome{outcome: "bad request URL: " + err.Error(), class: "error", failed: true}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return queryOutcome{outcome: "transport: " + err.Error(), class: "error", failed: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return queryOutcome{outcome: "reading body: " + err.Error(), class: "error", failed: true}
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest:
		// Only a parameter of a type the server does not search yet may be
		// refused; the extractor indexes none of those today.
		out := queryOutcome{outcome: fmt.Sprintf("400 %.300s", body), class: "400", failed: true}
		if def, ok := search.R4.Lookup(q.typ, q.param); ok && def.Type == "special" {
			out.skip, out.failed = def.Type+" parameters are not searchable yet", false
		}
		return out
	case resp.StatusCode != http.StatusOK:
		return queryOutcome{outcome: fmt.Sprintf("%d %.300s", resp.StatusCode, body), class: strconv.Itoa(resp.StatusCode), failed: true}
	}
	var b struct {
		Type  string
		Entry []struct {
			Resource struct{ ResourceType, ID string }
			Search   struct{ Mode string }
		}
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "searchset" {
		return queryOutcome{outcome: fmt.Sprintf("not a searchset: %.300s", body), class: "not a searchset", failed: true}
	}
	var got []string
	for _, e := range b.Entry {
		if e.Search.Mode != "include" {
			got = append(got, e.Resource.ResourceType+"/"+e.Resource.ID)
		}
	}
	switch {
	case len(got) == 1 && got[0] == q.typ+"/"+id:
		return queryOutcome{outcome: "found", class: "found"}
	case len(got) == 0:
		return queryOutcome{outcome: "not found", class: "not found", failed: true}
	}
	return queryOutcome{outcome: "found " + strings.Join(got, ", "), class: "found others", failed: true}
}

// maxReported bounds the failures and differences reported one by one.
const maxReported = 30

// TestExampleSearchParameters indexes every official R4 example and, for each
// search parameter with a value in it, searches by that value: the search
// must find the example, and both backends must answer alike.
func TestExampleSearchParameters(t *testing.T) {
	examples := loadExamples(t)
	// Every accepted example indexes without error.
	x := index.New()
	for _, ex := range examples {
		if _, err := x.Extract(ex.typ, ex.body); err != nil {
			t.Errorf("%s: %v", ex.file, err)
		}
	}
	// Parameters the extractor leaves out cannot be searched by value; say
	// which, for the types of the examples.
	notIndexed := map[string]int{}
	types := map[string]bool{}
	for _, ex := range examples {
		if types[ex.typ] {
			continue
		}
		types[ex.typ] = true
		for code, why := range x.Skipped(ex.typ) {
			if strings.HasPrefix(why, "expression does not compile") {
				t.Logf("not indexed: %s.%s: %s", ex.typ, code, why)
			}
			notIndexed[why]++
		}
	}
	t.Logf("(type, parameter) pairs not indexed, for the %d types of the examples: %v", len(types), notIndexed)
	outcomes := map[string]map[string]string{}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			outcomes[b.name] = searchExamples(t, b.open(t), examples)
		})
	}
	sq, pg := outcomes["sqlite"], outcomes["postgres"]
	if sq == nil || pg == nil {
		return
	}
	var diffs []string
	for k, v := range sq {
		if w, ok := pg[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: sqlite %q, postgres did not run it", k, v))
		} else if v != w {
			diffs = append(diffs, fmt.Sprintf("%s: sqlite %q, postgres %q", k, v, w))
		}
	}
	for k, w := range pg {
		if _, ok := sq[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: postgres %q, sqlite did not run it", k, w))
		}
	}
	sort.Strings(diffs)
	report(t, "differences between the backends", diffs)
}

// report fails t with the first maxReported problems and their count.
func report(t *testing.T, what string, problems []string) {
	t.Helper()
	for i, p := range problems {
		if i == maxReported {
			t.Errorf("... %d %s in all", len(problems), what)
			break
		}
		t.Error(p)
	}
}

// searchExamples creates the examples on a server over st, runs the queries
// built from their stored index entries and returns each query's outcome
// class by key.
func searchExamples(t *testing.T, st resources.Store, examples []example) map[string]string {
	start := time.Now()
	ix, ok := st.(storetest.Indexed)
	if !ok {
		t.Fatalf("%T does not implement storetest.Indexed", st)
	}
	c := newClient(t, st)
	ids := map[string]string{}
	for _, ex := range examples {
		res := c.do(http.MethodPost, "/"+ex.typ, ex.body)
		if res.status != http.StatusCreated {
			t.Errorf("%s: create got %d: %.300s", ex.file, res.status, res.body)
			continue
		}
		loc := res.header.Get("Location")
		i, j := strings.Index(loc, "/"+ex.typ+"/"), strings.Index(loc, "/_history/")
		if i < 0 || j < i {
			t.Fatalf("%s: bad Location %q", ex.file, loc)
		}
		ids[ex.file] = loc[i+len(ex.typ)+2 : j]
	}
	loaded := time.Since(start)
	var queries []exampleQuery
	pairs := map[string]bool{}
	for _, ex := range examples {
		id, ok := ids[ex.file]
		if !ok {
			continue
		}
		entries, err := ix.IndexOf(context.Background(), ex.typ, id)
		if err != nil {
			t.Fatalf("IndexOf %s/%s (%s): %v", ex.typ, id, ex.file, err)
		}
		for _, q := range queriesFor(ex.file, ex.typ, entries) {
			pairs[q.typ+"."+q.param] = true
			queries = append(queries, q)
		}
	}
	if len(queries) > maxExampleQueries {
		t.Logf("%d queries; sampling the first entry per (type, parameter) of each resource", len(queries))
		queries = sampleQueries(queries)
	}
	results := make([]queryOutcome, len(queries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, q := range queries {
		if q.skip != "" {
			results[i] = queryOutcome{class: "skipped", skip: q.skip}
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = runExampleQuery(context.Background(), c, q, ids[q.file])
		})
	}
	wg.Wait()
	classes := map[string]string{}
	skipped := map[string]int{}
	kinds := map[string]int{}
	var failures []string
	ran, passed, nskipped := 0, 0, 0
	for i, q := range queries {
		r := results[i]
		classes[q.key()] = r.class
		if q.skip == "" {
			ran++
			kinds[q.kind]++
		}
		switch {
		case r.skip != "":
			if skipped[r.skip] == 0 {
				t.Logf("skipped: %s (first: %s %s)", r.skip, q.file, q.params)
			}
			skipped[r.skip]++
			nskipped++
		case r.failed:
			failures = append(failures, fmt.Sprintf("%s: GET /%s?%s&_id=%s: %s", q.file, q.typ, q.params, ids[q.file], r.outcome))
		default:
			passed++
		}
	}
	t.Logf("%d examples created (%s), %d (type, parameter) pairs with values, %d queries run, %d passed, %d skipped, %d failed; %s in all",
		len(ids), loaded.Round(time.Millisecond), len(pairs), ran, passed, nskipped, len(failures), time.Since(start).Round(time.Millisecond))
	t.Logf("queries by kind: %v", kinds)
	report(t, "failed queries", failures)
	return classes
}
