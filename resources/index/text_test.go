package index

import (
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources/fhirpath"
)

func TestStripMarkup(t *testing.T) {
	for in, want := range map[string]string{
		`<div xmlns="http://www.w3.org/1999/xhtml"><p>Li&amp;Wu</p><!-- <b>hidden</b> -->  <b>张伟</b></div>`: "Li&Wu 张伟",
		`plain`:          "plain",
		`a<br/>b`:        "a b",
		`<p>open <b`:     "open",
		`&lt;b&gt; x`:    "<b> x",
		`<p a=">">t</p>`: `t`,
	} {
		if got := stripMarkup(in); got != want {
			t.Errorf("stripMarkup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTextOf(t *testing.T) {
	root, err := fhirpath.DecodeJSON([]byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","source":"urn:src"},
		"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Zoë <i>Müller</i></div>"},
		"name":[{"family":"Wu","given":["Lan","Ｍei"]}],"multipleBirthInteger":2,"active":true,
		"photo":[{"contentType":"image/png","data":"aGVsbG8="}],
		"contained":[{"resourceType":"Organization","id":"o","name":"梅州 Hospital"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got := textOf(root)
	if got.Narrative != "zoe muller" {
		t.Errorf("narrative %q", got.Narrative)
	}
	if want := "generated zoe muller wu lan mei image/png organization o 梅州 hospital"; got.Content != want {
		t.Errorf("content\n %q\nwant\n %q", got.Content, want)
	}
	empty, _ := fhirpath.DecodeJSON([]byte(`{"resourceType":"Basic","id":"b"}`))
	if e := textOf(empty); e.Narrative != "" || e.Content != "" {
		t.Errorf("empty resource: %+v", e)
	}
}
