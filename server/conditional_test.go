package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentConditionalCreate: 50 concurrent creates with the same
// If-None-Exist give one resource, one 201 and 49 × 200.
func TestConcurrentConditionalCreate(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		body := []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.156.10011.1.3","value":"440102199001011234"}]}`)
		codes := make([]int, 50)
		locs := make([]string, 50)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res := c.do(http.MethodPost, "/Patient", body, "If-None-Exist", "identifier=urn:oid:2.16.156.10011.1.3|440102199001011234")
				codes[i], locs[i] = res.status, res.header.Get("Location")
			}(i)
		}
		wg.Wait()
		count := map[int]int{}
		ids := map[string]bool{}
		for i, s := range codes {
			count[s]++
			ids[strings.Split(locs[i], "/_history")[0]] = true
		}
		if count[201] != 1 || count[200] != 49 || len(ids) != 1 {
			t.Fatalf("statuses %v, %d distinct resources", count, len(ids))
		}
		_, _, total := searchAll(t, c, "/Patient?identifier=440102199001011234&_total=accurate")
		if total != 1 {
			t.Fatalf("%d resources stored", total)
		}
	})
}

func TestConditionalUpdateAndDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		pat := func(v, gender string) []byte {
			return []byte(fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:x","value":%q}],"gender":%q}`, v, gender))
		}
		// No match: created.
		res := c.do(http.MethodPut, "/Patient?identifier=urn:x|1", pat("1", "male"))
		if res.status != http.StatusCreated {
			t.Fatalf("conditional update, no match: %d %s", res.status, res.body)
		}
		// One match: updated in place.
		res = c.do(http.MethodPut, "/Patient?identifier=urn:x|1", pat("1", "female"))
		if res.status != http.StatusOK || res.header.Get("ETag") != `W/"2"` {
			t.Fatalf("conditional update, one match: %d %s", res.status, res.body)
		}
		c.do(http.MethodPost, "/Patient", pat("2", "male"))
		c.do(http.MethodPost, "/Patient", pat("2", "male"))
		// Several matches: 412, for update and delete alike.
		if res = c.do(http.MethodPut, "/Patient?identifier=urn:x|2", pat("2", "female")); res.status != http.StatusPreconditionFailed {
			t.Fatalf("conditional update, two matches: %d", res.status)
		}
		if res = c.do(http.MethodDelete, "/Patient?identifier=urn:x|2", nil); res.status != http.StatusPreconditionFailed {
			t.Fatalf("conditional delete, two matches: %d", res.status)
		}
		if res = c.do(http.MethodDelete, "/Patient?identifier=urn:x|1", nil); res.status != http.StatusNoContent {
			t.Fatalf("conditional delete: %d", res.status)
		}
		if _, _, total := searchAll(t, c, "/Patient?identifier=urn:x|1&_total=accurate"); total != 0 {
			t.Fatalf("deleted resource still found: %d", total)
		}
		if res = c.do(http.MethodDelete, "/Patient?identifier=urn:x|9", nil); res.status != http.StatusNoContent {
			t.Fatalf("conditional delete of nothing: %d", res.status)
		}
	})
}

// TestTransactionConditionals: ifNoneExist entries, conditional updates and
// conditional references inside one transaction.
func TestTransactionConditionals(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *client) {
		c.do(http.MethodPost, "/Organization", []byte(`{"resourceType":"Organization","identifier":[{"system":"urn:org","value":"mz"}],"name":"Meizhou People's Hospital"}`))
		ine := `{"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:p|7"},"fullUrl":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
			"resource":{"resourceType":"Patient","identifier":[{"system":"urn:p","value":"7"}],"managingOrganization":{"reference":"Organization?identifier=urn:org|mz"}}}`
		obs := entry("POST", "Observation", "", `{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"urn:uuid:aaaaaaaa-0000-0000-0000-000000000001"}}`)
		b := []byte(fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[%s,%s]}`, ine, obs))
		first := decodeBundle(t, c.do(http.MethodPost, "/", b).body)
		second := decodeBundle(t, c.do(http.MethodPost, "/", b).body)
		if first.Entry[0].Response.Status != "201 Created" || second.Entry[0].Response.Status != "200 OK" {
			t.Fatalf("ifNoneExist entries: %s then %s", first.Entry[0].Response.Status, second.Entry[0].Response.Status)
		}
		patient := strings.Split(first.Entry[0].Response.Location, "/_history")[0]
		obs2 := c.do(http.MethodGet, "/"+strings.Split(second.Entry[1].Response.Location, "/_history")[0], nil)
		if !strings.Contains(string(obs2.body), `"reference":"`+patient+`"`) {
			t.Fatalf("the second Observation must refer to the existing patient %s: %s", patient, obs2.body)
		}
		p := c.do(http.MethodGet, "/"+patient, nil)
		if !strings.Contains(string(p.body), `"reference":"Organization/`) || strings.Contains(string(p.body), "Organization?") {
			t.Fatalf("conditional reference not resolved: %s", p.body)
		}
		// A conditional reference that matches nothing fails the transaction.
		bad := bundleOf("transaction", entry("POST", "Patient", "", `{"resourceType":"Patient","managingOrganization":{"reference":"Organization?identifier=urn:org|none"}}`))
		if res := c.do(http.MethodPost, "/", bad); res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "matches no resource") {
			t.Fatalf("unresolved conditional reference: %d %s", res.status, res.body)
		}
		// A conditional update entry updates the match.
		upd := bundleOf("transaction", entry("PUT", "Patient?identifier=urn:p|7", "", `{"resourceType":"Patient","identifier":[{"system":"urn:p","value":"7"}],"gender":"female"}`))
		res := decodeBundle(t, c.do(http.MethodPost, "/", upd).body)
		if res.Entry[0].Response.Status != "200 OK" || !strings.HasPrefix(res.Entry[0].Response.Location, strings.TrimPrefix(patient, "/")) {
			t.Fatalf("conditional update entry: %+v (patient %s)", res.Entry[0].Response, patient)
		}
	})
}
