package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

// TestWritesIndex: every write path stores the resource's search index
// entries with it, on both backends.
func TestWritesIndex(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			c := newClient(t, st)
			ix := st.(storetest.Indexed)
			tokens := func(id string) map[string]bool {
				x, err := ix.IndexOf(context.Background(), "Patient", id)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]bool{}
				for _, e := range x.Tokens {
					out[e.Param+"="+e.System+"|"+e.Code] = true
				}
				return out
			}
			c.do(http.MethodPut, "/Patient/ix", []byte(`{"resourceType":"Patient","id":"ix","gender":"female"}`))
			if !tokens("ix")["gender=|female"] {
				t.Fatalf("update-as-create: %v", tokens("ix"))
			}
			c.do(http.MethodPatch, "/Patient/ix", []byte(`[{"op":"replace","path":"/gender","value":"male"}]`), "Content-Type", "application/json-patch+json")
			if got := tokens("ix"); !got["gender=|male"] || got["gender=|female"] {
				t.Fatalf("patch must replace the entries: %v", got)
			}
			res := c.do(http.MethodPost, "/", bundleOf("transaction", entry("POST", "Patient", "", `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"7"}]}`)))
			rb := decodeBundle(t, res.body)
			id := strings.Split(strings.TrimPrefix(rb.Entry[0].Response.Location, "Patient/"), "/")[0]
			if !tokens(id)["identifier=urn:x|7"] {
				t.Fatalf("transaction create: %v", tokens(id))
			}
			c.do(http.MethodDelete, "/Patient/ix", nil)
			if x, _ := ix.IndexOf(context.Background(), "Patient", "ix"); x.Len() != 0 {
				t.Fatalf("delete must drop the entries: %+v", x)
			}
		})
	}
}
