package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// post creates a resource and returns its Type/id.
func (c *client) post(typ, body string) string {
	c.t.Helper()
	res := c.do(http.MethodPost, "/"+typ, []byte(body))
	if res.status != http.StatusCreated {
		c.t.Fatalf("create %s: %d %s", typ, res.status, res.body)
	}
	loc := strings.TrimPrefix(res.header.Get("Location"), c.base+"/")
	parts := strings.Split(loc, "/")
	return parts[0] + "/" + parts[1]
}

// bundleOf runs a search and decodes its Bundle, which must be a 200.
func resultBundle(t *testing.T, c *client, path string) (total *int, entries []map[string]any) {
	t.Helper()
	res := c.do(http.MethodGet, path, nil)
	if res.status != http.StatusOK {
		t.Fatalf("%s: %d %s", path, res.status, res.body)
	}
	var b struct {
		Total *int
		Entry []struct{ Resource map[string]any }
	}
	if err := json.Unmarshal(res.body, &b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, e := range b.Entry {
		entries = append(entries, e.Resource)
	}
	return b.Total, entries
}

// wantRefused checks a 4xx OperationOutcome mentioning what.
func wantRefused(t *testing.T, c *client, path string, status int, what string) {
	t.Helper()
	res := c.do(http.MethodGet, path, nil)
	if res.status != status || !strings.Contains(string(res.body), `"OperationOutcome"`) || !strings.Contains(string(res.body), what) {
		t.Errorf("%s: %d %.300s, want %d with an OperationOutcome naming %q", path, res.status, res.body, status, what)
	}
}

// subsetted reports whether a resource carries the SUBSETTED tag.
func subsetted(m map[string]any) bool {
	return slices.ContainsFunc(field(m, "meta", "tag"), func(v any) bool {
		tag, _ := v.(map[string]any)
		return tag["code"] == "SUBSETTED"
	})
}

// hasKeys checks which members an object has and has not.
func hasKeys(t *testing.T, what string, m any, have, lack []string) {
	t.Helper()
	obj, _ := m.(map[string]any)
	if obj == nil {
		t.Fatalf("%s: not an object: %v", what, m)
	}
	for _, k := range have {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s lacks %s: %v", what, k, obj)
		}
	}
	for _, k := range lack {
		if _, ok := obj[k]; ok {
			t.Errorf("%s keeps %s: %v", what, k, obj)
		}
	}
}

const narrative = `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">%s</div>"}`

func TestSummaryTrue(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		p := c.post("Patient", `{"resourceType":"Patient",`+fmt.Sprintf(narrative, "Li Wei")+`,
			"extension":[{"url":"http://example.org/x","valueString":"x"}],
			"identifier":[{"system":"urn:yiyang:summary","value":"s1"}],"active":true,
			"name":[{"family":"Li","given":["Wei"],"_given":[{"extension":[{"url":"http://example.org/g","valueString":"g"}]}]}],
			"gender":"male","birthDate":"1950-01-01","maritalStatus":{"text":"married"},
			"contact":[{"name":{"family":"Wu"}}],"communication":[{"language":{"text":"zh"}}]}`)
		o := c.post("Observation", `{"resourceType":"Observation",`+fmt.Sprintf(narrative, "HR 72")+`,"status":"final",
			"category":[{"text":"vital-signs"}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},
			"subject":{"reference":"`+p+`"},"effectiveDateTime":"2024-01-01T10:00:00Z",
			"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},
			"interpretation":[{"text":"normal"}],"note":[{"text":"calm"}],"referenceRange":[{"low":{"value":60}}],
			"component":[{"code":{"text":"rhythm"},"valueString":"regular","interpretation":[{"text":"ok"}]}]}`)
		pid, oid := strings.TrimPrefix(p, "Patient/"), strings.TrimPrefix(o, "Observation/")

		checkPatient := func(what string, m map[string]any) {
			t.Helper()
			hasKeys(t, what, m, []string{"resourceType", "id", "meta", "identifier", "active", "name", "gender", "birthDate"},
				[]string{"text", "extension", "maritalStatus", "contact", "communication"})
			hasKeys(t, what+" name", field(m, "name")[0], []string{"family", "given"}, []string{"_given"})
			if !subsetted(m) {
				t.Errorf("%s: no SUBSETTED tag: %v", what, m["meta"])
			}
		}
		_, es := resultBundle(t, c, "/Patient?_id="+pid+"&_summary=true")
		if len(es) != 1 {
			t.Fatalf("Patient?_summary=true: %d entries", len(es))
		}
		checkPatient("search", es[0])

		_, es = resultBundle(t, c, "/Observation?_id="+oid+"&_summary=true")
		if len(es) != 1 {
			t.Fatalf("Observation?_summary=true: %d entries", len(es))
		}
		obs := es[0]
		hasKeys(t, "Observation", obs, []string{"status", "code", "subject", "effectiveDateTime", "valueQuantity", "component"},
			[]string{"text", "category", "interpretation", "note", "referenceRange"})
		hasKeys(t, "Observation.component", field(obs, "component")[0], []string{"code", "valueString"}, []string{"interpretation"})
		hasKeys(t, "Observation.valueQuantity", obs["valueQuantity"], []string{"value", "unit", "system", "code"}, nil)

		// _summary=false and no _summary return everything, untagged.
		for _, q := range []string{"&_summary=false", ""} {
			_, es = resultBundle(t, c, "/Observation?_id="+oid+q)
			hasKeys(t, "Observation"+q, es[0], []string{"text", "category", "note", "referenceRange"}, nil)
			if subsetted(es[0]) {
				t.Errorf("Observation%s is tagged SUBSETTED", q)
			}
		}
		// _summary=text: the narrative, id, meta and the mandatory
		// top-level elements (Observation.status and code).
		_, es = resultBundle(t, c, "/Observation?_id="+oid+"&_summary=text")
		hasKeys(t, "Observation _summary=text", es[0], []string{"text", "id", "meta", "status", "code"},
			[]string{"subject", "valueQuantity", "category", "component"})
		// _summary=data: everything but the narrative.
		_, es = resultBundle(t, c, "/Observation?_id="+oid+"&_summary=data")
		hasKeys(t, "Observation _summary=data", es[0], []string{"status", "category", "note", "component"}, []string{"text"})

		// Read and vread take _summary and _elements too.
		res := c.do(http.MethodGet, "/"+p+"?_summary=true", nil)
		var m map[string]any
		if res.status != http.StatusOK || json.Unmarshal(res.body, &m) != nil || res.header.Get("ETag") != `W/"1"` {
			t.Fatalf("read with _summary=true: %d %s %s", res.status, res.header.Get("ETag"), res.body)
		}
		checkPatient("read", m)
		res = c.do(http.MethodGet, "/"+o+"/_history/1?_elements=status,note", nil)
		m = nil
		if res.status != http.StatusOK || json.Unmarshal(res.body, &m) != nil {
			t.Fatalf("vread with _elements: %d %s", res.status, res.body)
		}
		hasKeys(t, "vread _elements", m, []string{"status", "note"}, []string{"code", "subject", "text"})
		wantRefused(t, c, "/"+p+"?_summary=count", http.StatusBadRequest, "_summary")
		wantRefused(t, c, "/"+p+"?_summary=maybe", http.StatusBadRequest, "_summary")
		wantRefused(t, c, "/"+p+"?_elements=no%20such", http.StatusBadRequest, "_elements")
	})
}

func TestTotalModes(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		for i := range 5 {
			c.post("Patient", fmt.Sprintf(`{"resourceType":"Patient","gender":"female","name":[{"family":"Total%d"}]}`, i))
		}
		c.post("Patient", `{"resourceType":"Patient","gender":"male"}`)
		total := func(q string) *int {
			t.Helper()
			n, _ := resultBundle(t, c, "/Patient?"+q)
			return n
		}
		if n := total("gender=female&_total=accurate&_count=2"); n == nil || *n != 5 {
			t.Errorf("_total=accurate: %v, want 5", n)
		}
		// An estimate on a page with a next page is at least what is shown
		// plus one; on one page it is exact.
		if n := total("gender=female&_total=estimate&_count=2"); n == nil || *n < 3 {
			t.Errorf("_total=estimate over pages: %v, want at least 3", n)
		}
		if n := total("gender=female&_total=estimate&_count=10"); n == nil || *n != 5 {
			t.Errorf("_total=estimate on one page: %v, want 5", n)
		}
		if n := total("gender=female&_total=estimate&_summary=count"); n == nil || *n < 1 {
			t.Errorf("_total=estimate with _summary=count: %v", n)
		}
		// _total=none: no total, not even a free one.
		for _, q := range []string{"gender=female&_total=none&_count=2", "gender=female&_total=none", "_total=none&_count=0"} {
			if n := total(q); n != nil {
				t.Errorf("%s: total %d, want none", q, *n)
			}
		}
		if n := total("gender=female&_count=0"); n == nil || *n != 5 {
			t.Errorf("_count=0: %v, want 5", n)
		}
		wantRefused(t, c, "/Patient?_total=some", http.StatusBadRequest, "_total")
	})
}

func TestListParameter(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		obs := func(code string) string {
			return c.post("Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"urn:yiyang:list","code":"`+code+`"}]}}`)
		}
		o1, o2, o3, o4 := obs("a"), obs("b"), obs("a"), obs("a")
		p1 := c.post("Patient", `{"resourceType":"Patient","gender":"male"}`)
		list := func(items ...string) string {
			var es []string
			for _, it := range items {
				es = append(es, `{"item":{"reference":"`+it+`"}}`)
			}
			return c.post("List", `{"resourceType":"List","status":"current","mode":"working","entry":[`+strings.Join(es, ",")+`]}`)
		}
		l1, l2 := list(o1, o3, p1), list(o2)
		id := func(k string) string { return k[strings.Index(k, "/")+1:] }
		keys := func(q string) []string {
			t.Helper()
			got, _, _ := searchAll(t, c, q)
			slices.Sort(got)
			return got
		}
		sorted := func(ks ...string) []string { slices.Sort(ks); return ks }
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"/Observation?_list=" + id(l1), sorted(o1, o3)},
			{"/Patient?_list=" + id(l1), sorted(p1)},
			{"/Observation?_list=" + id(l1) + "," + id(l2), sorted(o1, o2, o3)},
			{"/Observation?_list=" + id(l1) + "&code=urn:yiyang:list|a", sorted(o1, o3)},
			{"/Observation?_list=" + id(l1) + "&_list=" + id(l2), nil},
			{"/Observation?_list=" + id(l2) + "&code=a", nil},
			{"/Observation?_list=nosuchlist", nil},
			{"/?_list=" + id(l1), sorted(o1, o3, p1)},
		} {
			if got := keys(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.q, got, tc.want)
			}
		}
		if got := keys("/Observation?code=a"); !slices.Contains(got, o4) {
			t.Fatalf("the control search misses %s: %v", o4, got)
		}
		// A List's new version counts; a deleted List lists nothing.
		if res := c.do(http.MethodPut, "/"+l2, []byte(`{"resourceType":"List","id":"`+id(l2)+`","status":"current","mode":"working","entry":[{"item":{"reference":"`+o4+`"}}]}`)); res.status != http.StatusOK {
			t.Fatalf("update List: %d %s", res.status, res.body)
		}
		if got := keys("/Observation?_list=" + id(l2)); !slices.Equal(got, []string{o4}) {
			t.Errorf("after the update: %v, want [%s]", got, o4)
		}
		if res := c.do(http.MethodDelete, "/"+l2, nil); res.status != http.StatusNoContent && res.status != http.StatusOK {
			t.Fatalf("delete List: %d %s", res.status, res.body)
		}
		if got := keys("/Observation?_list=" + id(l2)); len(got) != 0 {
			t.Errorf("deleted List still lists %v", got)
		}
		// Functional lists need a patient context: refused, or ignored
		// under lenient handling; malformed ids are refused.
		wantRefused(t, c, "/Observation?_list=$current-problems", http.StatusBadRequest, "not-supported")
		wantRefused(t, c, "/Observation?_list=$everything-else", http.StatusBadRequest, "functional list")
		wantRefused(t, c, "/Observation?_list="+url.QueryEscape("a b"), http.StatusBadRequest, "_list")
		wantRefused(t, c, "/Observation?_list:missing=true", http.StatusBadRequest, "_list")
		res := c.do(http.MethodGet, "/Observation?_list=$current-medications&_total=accurate", nil, "Prefer", "handling=lenient")
		if res.status != http.StatusOK || !strings.Contains(string(res.body), `"total":4`) {
			t.Errorf("lenient functional list: %d %.300s", res.status, res.body)
		}
	})
}

func TestTextAndContent(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		zhang := c.post("Patient", `{"resourceType":"Patient",`+
			fmt.Sprintf(narrative, `<p>Patient <b>Zhang</b> 张伟: diabetes &amp; hypertension, seen by Dr. Renée</p>`)+`,
			"name":[{"family":"Wu","given":["Lan"]}],"address":[{"city":"梅州市"}]}`)
		other := c.post("Patient", `{"resourceType":"Patient",`+fmt.Sprintf(narrative, "<p>asthma</p>")+`,"name":[{"family":"Diabetova"}]}`)
		bare := c.post("Patient", `{"resourceType":"Patient","gender":"male"}`)
		obs := c.post("Observation", `{"resourceType":"Observation","status":"final","code":{"text":"Heart rate"},
			"subject":{"reference":"`+zhang+`"},"note":[{"text":"心率偏高, recheck"}]}`)
		keys := func(q string) []string {
			t.Helper()
			got, _, _ := searchAll(t, c, q)
			slices.Sort(got)
			return got
		}
		sorted := func(ks ...string) []string { slices.Sort(ks); return ks }
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"/Patient?_text=diabetes", sorted(zhang)},
			{"/Patient?_text=DIABETES%20hyper", sorted(zhang)},            // terms ANDed, case folded
			{"/Patient?_text=diabetes%20asthma", nil},                     // both needed
			{"/Patient?_text=asthma,diabetes", sorted(zhang, other)},      // OR
			{"/Patient?_text=" + url.QueryEscape("伟"), sorted(zhang)},     // Chinese substring
			{"/Patient?_text=renee", sorted(zhang)},                       // accents folded
			{"/Patient?_text=wu", nil},                                    // the name is not narrative
			{"/Patient?_text=" + url.QueryEscape("<b>"), nil},             // markup is not text
			{"/Patient?_text=" + url.QueryEscape("&amp;"), nil},           // entities are decoded
			{"/Patient?_text:missing=true", sorted(bare)},                 // no narrative
			{"/Patient?_content=wu", sorted(zhang)},                       // the whole resource
			{"/Patient?_content=" + url.QueryEscape("梅州"), sorted(zhang)}, // ...every string
			{"/Patient?_content=diabet", sorted(zhang, other)},            // narrative and name
			{"/Patient?_content=zhang%20lan", sorted(zhang)},              // across elements
			{"/Observation?_content=" + url.QueryEscape("偏高"), sorted(obs)},
			{"/Observation?_content=heart%20recheck", sorted(obs)},
			{"/Observation?_text=heart", nil},
			{"/Observation?subject:Patient._text=hypertension", sorted(obs)}, // chained
			{"/?_content=diabetes", sorted(zhang)},                           // all types
			{"/Patient?_content=100%25", nil},                                // LIKE wildcards are literal
		} {
			if got := keys(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.q, got, tc.want)
			}
		}
		// An update replaces the text; a delete removes it.
		res := c.do(http.MethodPut, "/"+other, []byte(`{"resourceType":"Patient","id":"`+strings.TrimPrefix(other, "Patient/")+`",`+
			fmt.Sprintf(narrative, "bronchitis")+`}`))
		if res.status != http.StatusOK {
			t.Fatalf("update: %d %s", res.status, res.body)
		}
		if got := keys("/Patient?_text=asthma"); len(got) != 0 {
			t.Errorf("old narrative still found: %v", got)
		}
		if got := keys("/Patient?_text=bronch"); !slices.Equal(got, []string{other}) {
			t.Errorf("new narrative: %v", got)
		}
		if res := c.do(http.MethodDelete, "/"+zhang, nil); res.status >= 300 {
			t.Fatalf("delete: %d %s", res.status, res.body)
		}
		if got := keys("/Patient?_content=wu"); len(got) != 0 {
			t.Errorf("deleted resource still found: %v", got)
		}
		wantRefused(t, c, "/Patient?_text:exact=asthma", http.StatusBadRequest, "_text")
		wantRefused(t, c, "/Patient?_content="+url.QueryEscape("  "), http.StatusBadRequest, "no search terms")
	})
}

// TestCapabilityResultParams checks that /metadata lists _text, _content
// and _list among the search parameters of a type.
func TestCapabilityResultParams(t *testing.T) {
	c := newClient(t, backends()[0].open(t))
	res := c.do(http.MethodGet, "/metadata", nil)
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type        string
				SearchParam []struct{ Name, Type, Definition string }
			}
		}
	}
	if err := json.Unmarshal(res.body, &cs); err != nil || len(cs.Rest) == 0 {
		t.Fatalf("/metadata: %d %.300s", res.status, res.body)
	}
	for _, r := range cs.Rest[0].Resource {
		if r.Type != "Patient" {
			continue
		}
		got := map[string]string{}
		for _, sp := range r.SearchParam {
			got[sp.Name] = sp.Type + " " + sp.Definition
		}
		for name, want := range map[string]string{"_text": "string http://hl7.org/fhir/SearchParameter/DomainResource-text",
			"_content": "string http://hl7.org/fhir/SearchParameter/Resource-content", "_list": "special "} {
			if got[name] != want {
				t.Errorf("Patient searchParam %s: %q, want %q", name, got[name], want)
			}
		}
		return
	}
	t.Fatal("no Patient in the CapabilityStatement")
}
