package resources

import "testing"

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"patient",
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","tag":[{"code":"x"}]},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Li</div>"},` +
				`"extension":[{"url":"http://x","valueString":"y"}],"identifier":[{"system":"urn:s","value":"1","extension":[{"url":"http://e","valueString":"z"}]}],` +
				`"active":true,"name":[{"use":"official","family":"Li","given":["Wei"],"_given":[{"extension":[{"url":"http://g","valueString":"q"}]}]}],` +
				`"gender":"male","birthDate":"1950-01-01","_birthDate":{"extension":[{"url":"http://t","valueTime":"10:00:00"}]},"maritalStatus":{"text":"M"},` +
				`"contact":[{"name":{"family":"Wu"}}],"communication":[{"language":{"text":"zh"}}],` +
				`"link":[{"other":{"reference":"Patient/p2","display":"Other"},"type":"seealso","modifierExtension":[{"url":"http://m","valueBoolean":true}]}]}`,
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"},{"code":"x"}]},` +
				`"identifier":[{"system":"urn:s","value":"1"}],"active":true,"name":[{"use":"official","family":"Li","given":["Wei"]}],` +
				`"gender":"male","birthDate":"1950-01-01",` +
				`"link":[{"other":{"reference":"Patient/p2","display":"Other"},"type":"seealso","modifierExtension":[{"url":"http://m","valueBoolean":true}]}]}`},
		{"observation",
			`{"resourceType":"Observation","id":"o1","meta":{},"status":"final","category":[{"text":"vital"}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},` +
				`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-01T10:00:00Z","valueQuantity":{"value":72.0,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},` +
				`"interpretation":[{"text":"normal"}],"note":[{"text":"calm"}],"referenceRange":[{"low":{"value":60}}],` +
				`"component":[{"code":{"text":"c"},"valueString":"v","interpretation":[{"text":"i"}]}]}`,
			`{"resourceType":"Observation","id":"o1","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},` +
				`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-01T10:00:00Z","valueQuantity":{"value":72.0,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},` +
				`"component":[{"code":{"text":"c"},"valueString":"v"}]}`},
		// Provenance.agent is not in the summary but mandatory: it stays,
		// with its own summary and mandatory children.
		{"provenance",
			`{"resourceType":"Provenance","meta":{"versionId":"1"},"target":[{"reference":"Patient/p1"}],"occurredDateTime":"2024-01-01","recorded":"2024-01-01T10:00:00Z",` +
				`"reason":[{"text":"r"}],"agent":[{"type":{"text":"author"},"role":[{"text":"x"}],"who":{"reference":"Practitioner/1"},"onBehalfOf":{"reference":"Organization/1"}}],` +
				`"entity":[{"role":"source","what":{"reference":"DocumentReference/1"}}]}`,
			`{"resourceType":"Provenance","meta":{"versionId":"1","tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]},"target":[{"reference":"Patient/p1"}],"recorded":"2024-01-01T10:00:00Z",` +
				`"agent":[{"type":{"text":"author"},"who":{"reference":"Practitioner/1"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Summarize([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n %s\nwant\n %s", got, tc.want)
			}
		})
	}
	if _, err := Summarize([]byte(`{"resourceType":"Nope"}`)); err == nil {
		t.Error("an unknown resource type was summarised")
	}
}
