package server_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/meizhou-yiyang/yiyang/conformance/r4"
)

// loadTableFixtures loads the Synthea bundles and the hand-made resources
// that cover what Synthea lacks: accents and Chinese names, a patient
// without gender or birth date, a year-precision birth date, Patient.link,
// general practitioners, observations with equal dates (sort ties) and a
// reference by identifier only, RiskAssessments (number) and ValueSets (uri).
func loadTableFixtures(t *testing.T, c *client) *fixtures {
	all := loadSynthea(t, c)
	fx := &fixtures{base: c.base}
	for k, m := range all {
		switch {
		case strings.HasPrefix(k, "Patient/") && str(m, "name", "family") == "Atencio":
			fx.atencio = k
		case strings.HasPrefix(k, "Patient/") && str(m, "name", "family") == "Conn":
			fx.liz = k
		}
	}
	for k, m := range all { // atencio's first Encounter with observations
		e := str(m, "encounter", "reference")
		if strings.HasPrefix(k, "Observation/") && refersTo(m, fx.atencio, "subject") &&
			(fx.enc == "" || str(all[e], "period", "start") < str(all[fx.enc], "period", "start")) {
			fx.enc = e
		}
	}
	fx.prac, fx.org = str(all[fx.enc], "participant", "individual", "reference"), str(all[fx.enc], "serviceProvider", "reference")
	post := func(typ, body string) string {
		res := c.do(http.MethodPost, "/"+typ, []byte(body))
		if res.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", typ, res.status, res.body)
		}
		loc := strings.TrimPrefix(res.header.Get("Location"), c.base+"/")
		parts := strings.Split(loc, "/")
		return parts[0] + "/" + parts[1]
	}
	ident := func(v string) string { return `"identifier":[{"system":"urn:yiyang:table","value":"` + v + `"}]` }
	fx.zoe = post("Patient", `{"resourceType":"Patient",`+ident("zoe")+`,"name":[{"family":"Müller-Łukasiewicz","given":["Zoë"]}],
		"generalPractitioner":[{"reference":"`+fx.prac+`"}],"managingOrganization":{"reference":"`+fx.org+`"}}`)
	fx.zhang = post("Patient", `{"resourceType":"Patient",`+ident("zhang")+`,"name":[{"family":"张","given":["伟"],"text":"张伟"}],
		"gender":"female","birthDate":"1990-05","generalPractitioner":[{"reference":"`+fx.prac+`"}]}`)
	fx.renee = post("Patient", `{"resourceType":"Patient",`+ident("renee")+`,"name":[{"family":"Dupont","given":["Renée"]}],
		"gender":"female","birthDate":"1990","address":[{"city":"Montréal"}]}`)
	fx.linked = post("Patient", `{"resourceType":"Patient",`+ident("linked")+`,"gender":"other",
		"link":[{"other":{"reference":"`+fx.renee+`"},"type":"seealso"}]}`)
	for i, o := range []struct{ date, value, subject string }{
		{"2020-01-01T10:00:00Z", "5", `"reference":"` + fx.zoe + `"`},
		{"2020-01-01T10:00:00Z", "5", `"reference":"` + fx.zoe + `"`},
		{"2020-01-01T10:00:00Z", "7", `"reference":"` + fx.zhang + `"`},
		{"2019-06-01", "6", `"identifier":{"system":"urn:yiyang:table","value":"zoe"}`},
	} {
		post("Observation", `{"resourceType":"Observation",`+ident(fmt.Sprint("tie-", i))+`,"status":"final",
			"code":{"coding":[{"system":"http://example.org/codes","code":"tie"}]},"subject":{`+o.subject+`},
			"effectiveDateTime":"`+o.date+`","valueQuantity":{"value":`+o.value+`,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}`)
	}
	for i, p := range []string{"0.1", "0.25", "0.5", "0.52", "0.75", "0.95"} {
		post("RiskAssessment", `{"resourceType":"RiskAssessment",`+ident(fmt.Sprint("ra-", i))+`,"status":"final",
			"subject":{"reference":"`+fx.zoe+`"},"prediction":[{"probabilityDecimal":`+p+`}]}`)
	}
	for i, u := range []string{"http://example.org/fhir/ValueSet/a", "http://example.org/fhir/ValueSet/a/b",
		"http://example.org/fhir/ValueSet/ab", "http://other.org/fhir/ValueSet/a"} {
		post("ValueSet", fmt.Sprintf(`{"resourceType":"ValueSet","url":%q,"name":"VS%d","status":"active"}`, u, i))
	}
	for k, data := range allResources(t, c) {
		var m map[string]any
		json.Unmarshal(data, &m)
		all[k] = m
	}
	fx.all = all
	return fx
}

// tableCases are the rows of TestSearchTable.
func tableCases(fx *fixtures) []tcase {
	all := fx.all
	type M = map[string]any
	id := func(k string) string { return k[strings.Index(k, "/")+1:] }
	esc := url.QueryEscape
	ok := func(cat, q string, want func(k string, m M) bool) tcase {
		if want == nil {
			return tcase{cat: cat, query: q, want: func(string, M) bool { return false }, none: true}
		}
		return tcase{cat: cat, query: q, want: want}
	}
	always := func(string, M) bool { return true }
	emer := func(k string, m M) bool { return str(m, "class", "code") == "EMER" }
	var cs []tcase
	orgName, pracGender := str(all[fx.org], "name")[:6], str(all[fx.prac], "gender")

	// string: default (prefix, folded), :exact, :contains, accents, Chinese.
	for _, s := range []struct{ param, mode, q string }{
		{"family", "", "atenc"}, {"family", "", "ATENCIO"}, {"family", "", "conn"}, {"family", "exact", "Atencio"},
		{"family", "contains", "ENCI"}, {"given", "", "al"}, {"name", "", "liz"},
		{"name", "", "rowe"}, {"name", "contains", "an"}, {"name", "", "zoe"}, {"name", "", "ZOË"}, {"family", "", "muller"},
		{"family", "contains", "łukas"}, {"name", "", "张"}, {"name", "exact", "张伟"}, {"given", "", "renee"},
		{"given", "exact", "Renée"}, {"name", "contains", "ll"},
	} {
		s := s
		cs = append(cs, ok("string", "Patient?"+s.param+modSuffix(s.mode)+"="+esc(s.q), func(k string, m M) bool {
			if s.param == "name" {
				return matchStr(nameParts(m, "name"), s.mode, s.q)
			}
			return matchStr(strs(m, "name", s.param), s.mode, s.q)
		}))
	}
	cs = append(cs, ok("string", "Patient?family:exact=atencio", nil), ok("string", "Patient?given:exact=Renee", nil),
		ok("string", "Patient?name:contains=%25", nil), ok("string", "Patient?name:contains=_", nil), ok("string", "Organization?name=a%5C,b", nil),
		ok("string", "Patient?family=conn,atencio", func(k string, m M) bool { return k == fx.liz || k == fx.atencio }))
	for _, q := range []string{"boston", "spring", "montreal", "Montréal"} {
		q := q
		cs = append(cs, ok("string", "Patient?address-city="+esc(q), func(k string, m M) bool { return matchStr(strs(m, "address", "city"), "", q) }))
	}
	cs = append(cs,
		ok("string", "Organization?address-city=new%20bed", func(k string, m M) bool { return matchStr(strs(m, "address", "city"), "", "new bed") }),
		ok("string", "Organization?name:contains=hospital", func(k string, m M) bool { return matchStr(strs(m, "name"), "contains", "hospital") }),
		ok("string", "Practitioner?family=w,h", func(k string, m M) bool {
			return matchStr(strs(m, "name", "family"), "", "w") || matchStr(strs(m, "name", "family"), "", "h")
		}),
		ok("string", "Patient?address-postalcode=021", func(k string, m M) bool { return matchStr(strs(m, "address", "postalCode"), "", "021") }),
		ok("string", "Patient?family=a&given=a", func(k string, m M) bool {
			return matchStr(strs(m, "name", "family"), "", "a") && matchStr(strs(m, "name", "given"), "", "a")
		}),
	)

	// token: code, system|code, system|, |code, :not, :text, identifiers, OR, AND.
	coded := func(cat, q, system, code string, path ...string) tcase {
		return ok(cat, q, func(k string, m M) bool { return hasCoding(m, system, code, path...) })
	}
	cs = append(cs,
		ok("token", "Patient?gender=female", func(k string, m M) bool { return m["gender"] == "female" }),
		ok("token", "Patient?gender=male,other", func(k string, m M) bool { return m["gender"] == "male" || m["gender"] == "other" }),
		coded("token", "Observation?code=http://loinc.org|29463-7", "http://loinc.org", "29463-7", "code"),
		coded("token", "Observation?code=718-7", "", "718-7", "code"),
		ok("token", "Observation?code=http://loinc.org|", func(k string, m M) bool {
			for _, s := range strs(m, "code", "coding", "system") {
				if s == "http://loinc.org" {
					return true
				}
			}
			return false
		}),
		coded("token", "Observation?code=http://example.org/codes|tie", "http://example.org/codes", "tie", "code"),
		ok("token", "Observation?code=http://snomed.info/sct|8302-2", nil),
		coded("token", "Observation?category=laboratory", "", "laboratory", "category"),
		ok("token", "Observation?category=vital-signs&code=8302-2,29463-7", func(k string, m M) bool {
			return hasCoding(m, "", "vital-signs", "category") && (hasCoding(m, "", "8302-2", "code") || hasCoding(m, "", "29463-7", "code"))
		}),
		ok("token", "Encounter?class=EMER", emer),
		ok("token", "Encounter?class=http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB", func(k string, m M) bool { return str(m, "class", "code") == "AMB" }),
		ok("token", "Encounter?status=finished", func(k string, m M) bool { return m["status"] == "finished" }),
		ok("token", "Immunization?vaccine-code=140,113", func(k string, m M) bool {
			return hasCoding(m, "", "140", "vaccineCode") || hasCoding(m, "", "113", "vaccineCode")
		}),
		coded("token", "Condition?clinical-status=resolved", "", "resolved", "clinicalStatus"),
		ok("token", "Claim?use=claim", func(k string, m M) bool { return m["use"] == "claim" }),
		coded("token", "Observation?value-concept=8517006", "", "8517006", "valueCodeableConcept"),
		coded("token", "Observation?component-code=8462-4", "", "8462-4", "component", "code"),
		ok("token", "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|999-61-3984", func(k string, m M) bool { return k == fx.atencio }),
		ok("token", "Patient?identifier=urn:yiyang:table|", func(k string, m M) bool { return strings.Contains(fmt.Sprint(m["identifier"]), "urn:yiyang:table") }),
		ok("token", "Practitioner?identifier=140", func(k string, m M) bool {
			return len(strs(m, "identifier", "value")) > 0 && strs(m, "identifier", "value")[0] == "140"
		}),
		ok("token", "Patient?_id="+id(fx.liz)+","+id(fx.zoe), func(k string, m M) bool { return k == fx.liz || k == fx.zoe }),
		ok("token", "Observation?_tag=https://smarthealthit.org/tags|synthea-5-2019&code=tie", nil),
		ok("token", "Patient?_tag=synthea-5-2019", func(k string, m M) bool { return !strings.Contains(fmt.Sprint(m["identifier"]), "urn:yiyang:table") }),
	)

	// modifiers: :not, :text, :missing, :identifier, :[type], uri :below/:above.
	cs = append(cs,
		ok("modifier", "Patient?gender:not=male", func(k string, m M) bool { return m["gender"] != "male" }),
		ok("modifier", "Observation?code:not=8302-2&category=vital-signs", func(k string, m M) bool {
			return !hasCoding(m, "", "8302-2", "code") && hasCoding(m, "", "vital-signs", "category")
		}),
		ok("modifier", "Encounter?class:not=AMB,EMER", func(k string, m M) bool {
			return str(m, "class", "code") != "AMB" && !emer(k, m)
		}),
		ok("modifier", "Observation?code:text=hemo", func(k string, m M) bool { return matchStr(strs(m, "code", "text"), "", "hemo") }),
		ok("modifier", "Condition?code:text=sinusitis", func(k string, m M) bool {
			for _, w := range strings.Fields(str(m, "code", "text")) {
				if matchStr([]string{w}, "", "sinusitis") {
					return true
				}
			}
			return false
		}),
		ok("modifier", "Patient?gender:missing=true", func(k string, m M) bool { return m["gender"] == nil }),
		ok("modifier", "Patient?gender:missing=false", func(k string, m M) bool { return m["gender"] != nil }),
		ok("modifier", "Patient?birthdate:missing=true", func(k string, m M) bool { return m["birthDate"] == nil }),
		ok("modifier", "Patient?name:missing=true", func(k string, m M) bool { return m["name"] == nil }),
		ok("modifier", "Patient?general-practitioner:missing=false", func(k string, m M) bool { return m["generalPractitioner"] != nil }),
		ok("modifier", "Observation?value-quantity:missing=true&category=vital-signs", func(k string, m M) bool {
			return m["valueQuantity"] == nil && hasCoding(m, "", "vital-signs", "category")
		}),
		ok("modifier", "Observation?subject:identifier=urn:yiyang:table|zoe", func(k string, m M) bool {
			return str(m, "subject", "identifier", "value") == "zoe"
		}),
		ok("modifier", "Observation?subject:Patient="+id(fx.liz), func(k string, m M) bool { return refersTo(m, fx.liz, "subject") }),
		ok("modifier", "Encounter?subject:Patient="+id(fx.atencio), func(k string, m M) bool { return refersTo(m, fx.atencio, "subject") }),
		ok("modifier", "ValueSet?url:below=http://example.org/fhir/ValueSet/a", func(k string, m M) bool {
			return strings.HasPrefix(str(m, "url"), "http://example.org/fhir/ValueSet/a")
		}),
		ok("modifier", "ValueSet?url:below=http://example.org/", func(k string, m M) bool { return strings.HasPrefix(str(m, "url"), "http://example.org/") }),
		ok("modifier", "ValueSet?url:above=http://example.org/fhir/ValueSet/a/b/c", func(k string, m M) bool {
			return strings.HasPrefix("http://example.org/fhir/ValueSet/a/b/c", str(m, "url"))
		}),
	)
	// uri.
	cs = append(cs,
		ok("uri", "ValueSet?url=http://example.org/fhir/ValueSet/a", func(k string, m M) bool { return m["url"] == "http://example.org/fhir/ValueSet/a" }),
		ok("uri", "ValueSet?url=http://example.org/fhir/ValueSet/ab,http://other.org/fhir/ValueSet/a", func(k string, m M) bool {
			return m["url"] == "http://example.org/fhir/ValueSet/ab" || m["url"] == "http://other.org/fhir/ValueSet/a"
		}),
		ok("uri", "ValueSet?url=http://example.org/fhir/ValueSet", nil),
		ok("uri", "ValueSet?url:missing=false", func(k string, m M) bool { return m["url"] != nil }),
	)

	// reference: id, Type/id, OR, :missing, targets, absolute match by id.
	cs = append(cs,
		ok("reference", "Observation?subject="+fx.atencio, func(k string, m M) bool { return refersTo(m, fx.atencio, "subject") }),
		ok("reference", "Observation?patient="+id(fx.atencio)+","+fx.liz, func(k string, m M) bool {
			return refersTo(m, fx.atencio, "subject") || refersTo(m, fx.liz, "subject")
		}),
		ok("reference", "Observation?encounter="+fx.enc, func(k string, m M) bool { return refersTo(m, fx.enc, "encounter") }),
		ok("reference", "Encounter?practitioner="+fx.prac, func(k string, m M) bool { return refersTo(m, fx.prac, "participant", "individual") }),
		ok("reference", "Encounter?service-provider="+fx.org, func(k string, m M) bool { return refersTo(m, fx.org, "serviceProvider") }),
		ok("reference", "Patient?general-practitioner="+fx.prac, func(k string, m M) bool { return refersTo(m, fx.prac, "generalPractitioner") }),
		ok("reference", "Patient?link="+fx.renee, func(k string, m M) bool { return k == fx.linked }),
		ok("reference", "RiskAssessment?subject="+fx.zoe, func(k string, m M) bool { return true }),
		ok("reference", "Observation?encounter:missing=true", func(k string, m M) bool { return m["encounter"] == nil }),
		ok("reference", "Condition?encounter:missing=false&patient="+id(fx.liz), func(k string, m M) bool {
			return m["encounter"] != nil && refersTo(m, fx.liz, "subject")
		}),
		ok("reference", "Observation?subject=http://elsewhere.example/fhir/"+fx.atencio, nil),
		ok("reference", "Observation?subject="+fx.base+"/"+fx.atencio, func(k string, m M) bool { return refersTo(m, fx.atencio, "subject") }),
		ok("reference", "Observation?subject:Patient.family=conn,atencio", func(k string, m M) bool {
			return refersTo(m, fx.liz, "subject") || refersTo(m, fx.atencio, "subject")
		}),
		ok("reference", "Observation?subject:Patient.gender:missing=true", func(k string, m M) bool { return refersTo(m, fx.zoe, "subject") }),
		ok("reference", "Claim?patient="+fx.atencio+"&provider:missing=false", func(k string, m M) bool { return refersTo(m, fx.atencio, "patient") }),
	)

	// date, with every prefix and several precisions.
	for _, q := range []string{"1993", "1990-05", "1990", "1993-06-07", "ne1993-06-07", "gt1992", "lt1988-03-16", "ge1990-05",
		"le1990-05-15", "sa1990", "eb1990", "ap1990-06-01", "gt1990-05,lt1985"} {
		q := q
		cs = append(cs, ok("date", "Patient?birthdate="+q, func(k string, m M) bool {
			for _, v := range strings.Split(q, ",") {
				if dates(m, v, "birthDate") {
					return true
				}
			}
			return false
		}))
	}
	for _, q := range []string{"2015", "gt2019-12-31T23:00:00Z", "lt2012-03", "ge2020-01-01T10:00:00Z", "le2012-03", "sa2016-06", "eb2012-06-01", "ne2012", "2020-01-01T10:00:00Z", "ap2019"} {
		q := q
		cs = append(cs, ok("date", "Observation?date="+esc(q), func(k string, m M) bool { return dates(m, q, "effectiveDateTime") }))
	}
	for _, q := range []string{"2007-06-04", "gt2018", "lt2010-01", "sa2017-01-01", "eb2005"} {
		q := q
		cs = append(cs, ok("date", "Encounter?date="+q, func(k string, m M) bool { return dates(m, q, "period") }))
	}
	cs = append(cs,
		ok("date", "Observation?date=ge2014&date=lt2016", func(k string, m M) bool {
			return dates(m, "ge2014", "effectiveDateTime") && dates(m, "lt2016", "effectiveDateTime")
		}),
		ok("date", "Observation?date="+esc("2020-01-01T11:00:00+01:00"), func(k string, m M) bool { return dates(m, "2020-01-01T10:00:00Z", "effectiveDateTime") }),
		ok("date", "Observation?date=ge2020-01-01T10:00:00.000Z&date=le2020-01-01T10:00", func(k string, m M) bool {
			return dates(m, "2020-01-01T10:00:00Z", "effectiveDateTime")
		}),
		ok("date", "Immunization?date=le2014-12", func(k string, m M) bool { return dates(m, "le2014-12", "occurrenceDateTime") }),
		ok("date", "Condition?onset-date=gt2015", func(k string, m M) bool { return dates(m, "gt2015", "onsetDateTime") }),
		ok("date", "Claim?created=ge2018-06-01", func(k string, m M) bool { return dates(m, "ge2018-06-01", "created") }),
		ok("date", "Patient?_lastUpdated=gt2000-01-01", always),
		ok("date", "Patient?_lastUpdated=lt2000-01-01", nil),
	)

	// number (RiskAssessment.prediction.probability), every prefix.
	for _, q := range []string{"0.5", "0.50", "ne0.5", "gt0.5", "lt0.5", "ge0.52", "le0.25", "sa0.75", "eb0.25", "ap0.5", "0.1,0.95", "gt0.2&probability=lt0.6"} {
		q := q
		cs = append(cs, ok("number", "RiskAssessment?probability="+q, func(k string, m M) bool {
			a, b, _ := strings.Cut(q, "&probability=")
			for _, v := range strings.Split(a, ",") {
				if nums(m, v, "prediction", "probabilityDecimal") && (b == "" || nums(m, b, "prediction", "probabilityDecimal")) {
					return true
				}
			}
			return false
		}))
	}

	cs = append(cs, ok("number", "RiskAssessment?probability=5e-1", func(k string, m M) bool {
		x := num(m, "prediction", "probabilityDecimal")
		return x >= 0.45 && x < 0.55
	}))

	// quantity: prefixes, units with system, ||code, UCUM conversion.
	quantity := func(q, code string) func(string, M) bool {
		return func(k string, m M) bool {
			if f, g := ucum[code], ucum[str(m, "valueQuantity", "code")]; f.unit != "" && f.unit == g.unit {
				p, v := splitPfx(q)
				var x float64
				fmt.Sscan(v, &x)
				return matchNum(p+fmt.Sprint(x*f.factor/g.factor), num(m, "valueQuantity", "value"))
			}
			return nums(m, q, "valueQuantity", "value") && (code == "" || str(m, "valueQuantity", "code") == code)
		}
	}
	for _, q := range []struct{ q, code string }{{"gt180", ""}, {"lt2", ""}, {"ge90|http://unitsofmeasure.org|kg", "kg"},
		{"le5||mg", "mg"}, {"5||mg", "mg"}, {"ne5||mg", "mg"}, {"ap100", ""}, {"sa200", ""}, {"eb1", ""}, {"179", ""}, {"gt100,lt1", ""}} {
		q := q
		cs = append(cs, ok("quantity", "Observation?value-quantity="+esc(q.q), func(k string, m M) bool {
			for _, v := range strings.Split(q.q, ",") {
				if quantity(strings.Split(v, "|")[0], q.code)(k, m) {
					return true
				}
			}
			return false
		}))
	}
	cs = append(cs,
		ok("quantity", "Observation?value-quantity="+esc("gt1.8|http://unitsofmeasure.org|m"), quantity("gt1.8", "m")),
		ok("quantity", "Observation?value-quantity="+esc("lt0.006|http://unitsofmeasure.org|g"), quantity("lt0.006", "g")),
		ok("quantity", "Observation?component-value-quantity=gt140", func(k string, m M) bool { return nums(m, "gt140", "component", "valueQuantity", "value") }),
	)

	// chains, depth 1 to 4, and a chain on _id.
	cs = append(cs,
		ok("chain", "Observation?subject:Patient.name=liz", func(k string, m M) bool {
			for _, p := range deref(all, m, "subject") {
				if matchStr(nameParts(p, "name"), "", "liz") {
					return true
				}
			}
			return false
		}),
		ok("chain", "Observation?patient:Patient.birthdate=lt1988&code=8302-2", func(k string, m M) bool {
			for _, p := range deref(all, m, "subject") {
				if dates(p, "lt1988", "birthDate") && hasCoding(m, "", "8302-2", "code") {
					return true
				}
			}
			return false
		}),
		ok("chain", "Encounter?service-provider.address-city=boston", func(k string, m M) bool {
			for _, o := range deref(all, m, "serviceProvider") {
				if matchStr(strs(o, "address", "city"), "", "boston") {
					return true
				}
			}
			return false
		}),
		ok("chain", "Observation?encounter:Encounter.service-provider.name="+esc(orgName), func(k string, m M) bool {
			for _, e := range deref(all, m, "encounter") {
				for _, o := range deref(all, e, "serviceProvider") {
					if matchStr(strs(o, "name"), "", orgName) {
						return true
					}
				}
			}
			return false
		}),
		ok("chain", "Observation?encounter:Encounter.patient:Patient.gender=female", func(k string, m M) bool {
			for _, e := range deref(all, m, "encounter") {
				for _, p := range deref(all, e, "subject") {
					if p.(M)["gender"] == "female" {
						return true
					}
				}
			}
			return false
		}),
		ok("chain", "Observation?patient:Patient.general-practitioner:Practitioner.gender="+pracGender, func(k string, m M) bool {
			for _, p := range deref(all, m, "subject") {
				for _, g := range deref(all, p, "generalPractitioner") {
					if g.(M)["gender"] == pracGender {
						return true
					}
				}
			}
			return false
		}),
		ok("chain", "DiagnosticReport?result.encounter:Encounter.practitioner.name=dr", func(k string, m M) bool {
			for _, o := range deref(all, m, "result") {
				for _, e := range deref(all, o, "encounter") {
					for _, p := range deref(all, e, "participant", "individual") {
						if matchStr(nameParts(p, "name"), "", "dr") {
							return true
						}
					}
				}
			}
			return false
		}),
		ok("chain", "Observation?encounter:Encounter.patient:Patient._id="+id(fx.atencio), func(k string, m M) bool {
			for _, e := range deref(all, m, "encounter") {
				if refersTo(e, fx.atencio, "subject") {
					return true
				}
			}
			return false
		}),
		ok("chain", "Observation?encounter:Encounter.part-of.part-of.part-of.status=finished", nil),
	)

	// _has, nested.
	hasObs := func(code string) func(k string, m M) bool {
		return func(k string, m M) bool {
			return len(referrers(all, []string{k}, "Observation", "encounter")) > 0 && func() bool {
				for _, o := range referrers(all, []string{k}, "Observation", "encounter") {
					if hasCoding(all[o], "", code, "code") {
						return true
					}
				}
				return false
			}()
		}
	}
	cs = append(cs,
		ok("has", "Patient?_has:Observation:patient:code=718-7", func(k string, m M) bool {
			for _, o := range referrers(all, []string{k}, "Observation", "subject") {
				if hasCoding(all[o], "", "718-7", "code") {
					return true
				}
			}
			return false
		}),
		ok("has", "Encounter?_has:Observation:encounter:code=8302-2", hasObs("8302-2")),
		ok("has", "Patient?_has:Encounter:patient:_has:Observation:encounter:code=2093-3", func(k string, m M) bool {
			for _, e := range referrers(all, []string{k}, "Encounter", "subject") {
				if hasObs("2093-3")(e, all[e]) {
					return true
				}
			}
			return false
		}),
		ok("has", "Practitioner?_has:Encounter:practitioner:_has:Observation:encounter:code=6690-2", func(k string, m M) bool {
			for _, e := range referrers(all, []string{k}, "Encounter", "participant", "individual") {
				if hasObs("6690-2")(e, all[e]) {
					return true
				}
			}
			return false
		}),
		ok("has", "Organization?_has:Encounter:service-provider:class=EMER", func(k string, m M) bool {
			for _, e := range referrers(all, []string{k}, "Encounter", "serviceProvider") {
				if emer(e, all[e]) {
					return true
				}
			}
			return false
		}),
		ok("has", "Patient?_has:Patient:link:gender=other", func(k string, m M) bool { return k == fx.renee }),
		ok("has", "Patient?_has:Patient:link:_has:Patient:link:gender=other", nil),
		ok("has", "Patient?_has:RiskAssessment:subject:probability=gt0.9&_has:Observation:subject:code=tie", func(k string, m M) bool { return k == fx.zoe }),
	)

	// _include, :iterate, wildcard, typed; _revinclude with :iterate.
	inc := func(q string, want func(k string, m M) bool, incl func([]string) []string) tcase {
		return tcase{cat: "include", query: q, want: want, incl: incl}
	}
	obsOf := func(p string) func(string, M) bool {
		return func(k string, m M) bool { return refersTo(m, p, "subject") }
	}
	tie := func(k string, m M) bool { return hasCoding(m, "", "tie", "code") }
	cs = append(cs,
		inc("Encounter?patient="+id(fx.atencio)+"&_include=Encounter:practitioner", obsOf(fx.atencio), func(ms []string) []string {
			return follow(all, ms, "participant", "individual")
		}),
		inc("Observation?code=tie&_include=Observation:patient&_include:iterate=Patient:general-practitioner&_include:iterate=Patient:organization", tie,
			func(ms []string) []string {
				ps := follow(all, ms, "subject")
				return append(append(ps, follow(all, ps, "generalPractitioner")...), follow(all, ps, "managingOrganization")...)
			}),
		inc("Observation?patient="+id(fx.liz)+"&code=8302-2&_include=Observation:encounter&_include:iterate=Encounter:service-provider&_include:iterate=Encounter:practitioner",
			func(k string, m M) bool { return refersTo(m, fx.liz, "subject") && hasCoding(m, "", "8302-2", "code") },
			func(ms []string) []string {
				es := follow(all, ms, "encounter")
				return append(append(es, follow(all, es, "serviceProvider")...), follow(all, es, "participant", "individual")...)
			}),
		inc("Encounter?_id="+id(fx.enc)+"&_include=Encounter:*", func(k string, m M) bool { return k == fx.enc }, func(ms []string) []string { return follow(all, ms) }),
		inc("Observation?code=tie&_include=Observation:subject:Patient", tie, func(ms []string) []string { return follow(all, ms, "subject") }),
		inc("RiskAssessment?probability=gt0.9&_include=RiskAssessment:subject&_include=Patient:general-practitioner",
			func(k string, m M) bool { return nums(m, "gt0.9", "prediction", "probabilityDecimal") },
			func(ms []string) []string { return follow(all, ms, "subject") }),
		inc("Patient?_id="+id(fx.atencio)+"&_revinclude=Encounter:patient", func(k string, m M) bool { return k == fx.atencio },
			func(ms []string) []string { return referrers(all, ms, "Encounter", "subject") }),
		inc("Patient?_id="+id(fx.liz)+"&_revinclude=Encounter:patient&_revinclude:iterate=Observation:encounter", func(k string, m M) bool { return k == fx.liz },
			func(ms []string) []string {
				es := referrers(all, ms, "Encounter", "subject")
				return append(es, referrers(all, es, "Observation", "encounter")...)
			}),
		inc("Practitioner?_id="+id(fx.prac)+"&_revinclude=Patient:*", func(k string, m M) bool { return k == fx.prac },
			func(ms []string) []string { return referrers(all, ms, "Patient") }),
		inc("Patient?name=zoe&_revinclude=RiskAssessment:subject&_revinclude=Observation:subject", func(k string, m M) bool { return k == fx.zoe },
			func(ms []string) []string {
				return append(referrers(all, ms, "RiskAssessment", "subject"), referrers(all, ms, "Observation", "subject")...)
			}),
		inc("Encounter?class=EMER&_include=Encounter:patient&_revinclude=Condition:encounter", emer,
			func(ms []string) []string {
				return append(follow(all, ms, "subject"), referrers(all, ms, "Condition", "encounter")...)
			}),
	)

	// _sort: several keys, both directions, missing last, ties across pages.
	fstr := func(path ...string) func(M, bool) []any {
		return func(m M, _ bool) []any {
			var out []any
			for _, s := range strs(m, path...) {
				out = append(out, fold(s))
			}
			return out
		}
	}
	fdate := func(path ...string) func(M, bool) []any {
		return func(m M, desc bool) []any {
			var out []any
			for _, v := range field(m, path...) {
				lo, hi := int64(0), int64(0)
				switch x := v.(type) {
				case string:
					lo, hi, _ = dateRange(x)
				case M:
					lo, _, _ = dateRange(str(x, "start"))
					_, hi, _ = dateRange(str(x, "end"))
				}
				if desc {
					out = append(out, float64(hi))
				} else {
					out = append(out, float64(lo))
				}
			}
			return out
		}
	}
	fnum := func(path ...string) func(M, bool) []any {
		return func(m M, _ bool) []any {
			var out []any
			for _, v := range field(m, path...) {
				out = append(out, v)
			}
			return out
		}
	}
	fcode := func(path ...string) func(M, bool) []any {
		return func(m M, _ bool) []any {
			var out []any
			for _, v := range field(m, path...) {
				switch x := v.(type) {
				case string:
					out = append(out, x)
				case M:
					if c, ok := x["code"].(string); ok {
						out = append(out, c)
					}
					for _, c := range strs(x, "coding", "code") {
						out = append(out, c)
					}
				}
			}
			return out
		}
	}
	srt := func(q string, want func(string, M) bool, keys ...sortSpec) tcase {
		return tcase{cat: "sort", query: q, want: want, order: keys}
	}
	asc := func(f func(M, bool) []any) sortSpec { return sortSpec{vals: f} }
	desc := func(f func(M, bool) []any) sortSpec { return sortSpec{desc: true, vals: f} }
	cs = append(cs,
		srt("Patient?_sort=birthdate&_count=3", always, asc(fdate("birthDate"))),
		srt("Patient?_sort=-birthdate&_count=3", always, desc(fdate("birthDate"))),
		srt("Patient?_sort=family&_count=2", always, asc(fstr("name", "family"))),
		srt("Patient?_sort=-family,birthdate&_count=2", always, desc(fstr("name", "family")), asc(fdate("birthDate"))),
		srt("Patient?_sort=gender,-birthdate&_count=4", always, asc(fcode("gender")), desc(fdate("birthDate"))),
		srt("Observation?code=tie&_sort=date&_count=1", tie, asc(fdate("effectiveDateTime"))),
		srt("Observation?code=tie&_sort=-date,value-quantity&_count=1", tie, desc(fdate("effectiveDateTime")), asc(fnum("valueQuantity", "value"))),
		srt("Observation?code=8302-2&_sort=-value-quantity&_count=4", func(k string, m M) bool { return hasCoding(m, "", "8302-2", "code") },
			desc(fnum("valueQuantity", "value"))),
		srt("Observation?patient="+id(fx.atencio)+"&_sort=date&_count=4", obsOf(fx.atencio), asc(fdate("effectiveDateTime"))),
		srt("Observation?category=vital-signs&_sort=code,-date&_count=9", func(k string, m M) bool { return hasCoding(m, "", "vital-signs", "category") },
			asc(fcode("code")), desc(fdate("effectiveDateTime"))),
		srt("Encounter?_sort=-date&_count=5", always, desc(fdate("period"))),
		srt("Encounter?patient="+id(fx.atencio)+"&_sort=class,date&_count=2", obsOf(fx.atencio), asc(fcode("class")), asc(fdate("period"))),
		srt("RiskAssessment?_sort=-probability&_count=2", always, desc(fnum("prediction", "probabilityDecimal"))),
		srt("ValueSet?_sort=url&_count=1", always, asc(fstr("url"))),
		srt("Organization?address-city=b&_sort=name&_count=4", func(k string, m M) bool { return matchStr(strs(m, "address", "city"), "", "b") }, asc(fstr("name"))),
		srt("Observation?category=vital-signs&_sort=-value-quantity&_count=7", func(k string, m M) bool { return hasCoding(m, "", "vital-signs", "category") },
			desc(fnum("valueQuantity", "value"))),
		srt("Observation?category=vital-signs&_sort=value-quantity&_count=7", func(k string, m M) bool { return hasCoding(m, "", "vital-signs", "category") },
			asc(fnum("valueQuantity", "value"))),
		srt("Patient?_sort=-gender,family&_count=3", always, desc(fcode("gender")), asc(fstr("name", "family"))),
		srt("Immunization?_sort=vaccine-code,-date&_count=6", always, asc(fcode("vaccineCode")), desc(fdate("occurrenceDateTime"))),
		srt("Condition?_sort=-onset-date&_count=4", always, desc(fdate("onsetDateTime"))),
		srt("Practitioner?_sort=family,given&_count=10", always, asc(fstr("name", "family")), asc(fstr("name", "given"))),
		srt("Claim?_sort=created&_count=7", always, asc(fdate("created"))),
	)

	// paging, _total, _summary, _elements.
	cs = append(cs,
		ok("paging", "Observation?_count=1&patient="+id(fx.zoe), obsOf(fx.zoe)),
		ok("paging", "Observation?_count=13", always),
		ok("paging", "Practitioner?_count=113", always),
		ok("paging", "Practitioner?_count=112", always),
		ok("total", "Patient?gender=male&_total=accurate&_count=2", func(k string, m M) bool { return m["gender"] == "male" }),
		ok("total", "Encounter?_total=estimate", always),
		ok("total", "Encounter?_total=none&class=EMER", emer),
		tcase{cat: "summary", query: "Patient?_summary=count", want: always, countOnly: true},
		tcase{cat: "summary", query: "Observation?code=8302-2&_summary=count", want: func(k string, m M) bool { return hasCoding(m, "", "8302-2", "code") }, countOnly: true},
		tcase{cat: "summary", query: "Observation?code=tie&_count=0", want: tie, countOnly: true},
		tcase{cat: "summary", query: "Patient?_summary=data", want: always, shape: func(m M) bool { return m["text"] == nil && m["resourceType"] == "Patient" }},
		tcase{cat: "summary", query: "Patient?_summary=text&gender=male", want: func(k string, m M) bool { return m["gender"] == "male" },
			shape: func(m M) bool { return m["name"] == nil && m["text"] != nil }},
		tcase{cat: "summary", query: "Patient?_summary=true&gender=female", want: func(k string, m M) bool { return m["gender"] == "female" },
			shape: func(m M) bool {
				return m["text"] == nil && m["extension"] == nil && m["communication"] == nil && m["maritalStatus"] == nil &&
					m["gender"] == "female" && strings.Contains(fmt.Sprint(m["meta"]), "SUBSETTED")
			}},
		tcase{cat: "summary", query: "Observation?code=8302-2&_summary=true", want: func(k string, m M) bool { return hasCoding(m, "", "8302-2", "code") },
			shape: func(m M) bool {
				return m["category"] == nil && m["text"] == nil && m["status"] != nil && m["code"] != nil && m["valueQuantity"] != nil
			}},
		tcase{cat: "elements", query: "Patient?_elements=gender,birthDate", want: always, shape: onlyElements("gender", "birthDate")},
		tcase{cat: "elements", query: "Observation?code=tie&_elements=code,subject", want: tie, shape: onlyElements("code", "subject")},
		tcase{cat: "elements", query: "Encounter?class=EMER&_elements=period", want: emer,
			shape: onlyElements("period")},
	)

	// _text (narrative) and _content (every string): terms ANDed, values ORed.
	for _, tx := range []struct{ q string }{
		{"Patient?_text=synthea"}, {"Patient?_text=person%20SEED"}, {"Patient?_text=version%20identifier,zoe"}, {"Patient?_content=boston"},
		{"Patient?_content=zoe,%E5%BC%A0"}, {"Condition?_content=hypertension,diabetes"}, {"Encounter?_content=check%20up,emergency"},
		{"Organization?_content=hospital"}, {"Observation?_content=body%20kg"},
	} {
		param, val, _ := strings.Cut(tx.q[strings.Index(tx.q, "?")+1:], "=")
		val, _ = url.QueryUnescape(val)
		cs = append(cs, ok("text", tx.q, func(k string, m M) bool { return matchText(textOf(m, param == "_text"), val) }))
	}

	// compartments.
	def, _ := r4.CompartmentFor("Patient")
	inCompartment := func(p string) func(k string, m M) bool {
		return func(k string, m M) bool {
			if _, in := def.Resources[k[:strings.Index(k, "/")]]; !in {
				return false
			}
			var refs []string
			references(m, &refs)
			for _, r := range refs {
				if r == p {
					return true
				}
			}
			return false // R4: the patient is a member only through link
		}
	}
	cs = append(cs,
		ok("compartment", fx.atencio+"/Observation", obsOf(fx.atencio)),
		ok("compartment", fx.liz+"/Encounter", obsOf(fx.liz)),
		ok("compartment", fx.liz+"/Observation?code=8302-2", func(k string, m M) bool { return refersTo(m, fx.liz, "subject") && hasCoding(m, "", "8302-2", "code") }),
		ok("compartment", fx.atencio+"/Claim", func(k string, m M) bool { return refersTo(m, fx.atencio, "patient") }),
		ok("compartment", fx.zoe+"/RiskAssessment?probability=lt0.5", func(k string, m M) bool { return nums(m, "lt0.5", "prediction", "probabilityDecimal") }),
		ok("compartment", fx.liz+"/*", inCompartment(fx.liz)),
		ok("compartment", fx.zoe+"/*", inCompartment(fx.zoe)),
		ok("compartment", fx.renee+"/Patient", func(k string, m M) bool { return k == fx.linked }),
		ok("compartment", fx.prac+"/Encounter", func(k string, m M) bool { return refersTo(m, fx.prac, "participant", "individual") }),
		ok("compartment", fx.enc+"/Observation", func(k string, m M) bool { return refersTo(m, fx.enc, "encounter") }),
	)
	cs = append(cs, compositeCases(fx)...)
	return append(cs, malformedCases(fx)...)
}

// ucum are the unit conversions the quantity oracles use.
var ucum = map[string]struct {
	unit   string
	factor float64
}{"mg": {"g", 1e-3}, "g": {"g", 1}, "kg": {"g", 1e3}, "cm": {"m", 1e-2}, "m": {"m", 1}}

func modSuffix(mode string) string {
	if mode == "" {
		return ""
	}
	return ":" + mode
}

// onlyElements checks that a resource holds only the given elements, the
// mandatory ones and a SUBSETTED tag.
func onlyElements(elems ...string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		allowed := map[string]bool{"resourceType": true, "id": true, "meta": true, "status": true}
		for _, e := range elems {
			allowed[e] = true
		}
		for k := range m {
			if !allowed[k] {
				return false
			}
		}
		return hasCoding(m, "", "SUBSETTED", "meta", "tag") || strings.Contains(fmt.Sprint(m["meta"]), "SUBSETTED")
	}
}

// textOf is the oracle's view of what _text (narrativeOnly) or _content
// search: the narrative without markup, or every string of the resource but
// its id, meta and base64 data, folded.
func textOf(m map[string]any, narrativeOnly bool) string {
	strip := func(div string) string {
		return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(div, " "))
	}
	if narrativeOnly {
		return fold(strip(str(m, "text", "div")))
	}
	var b strings.Builder
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + " ")
		case []any:
			for _, e := range x {
				walk(e, false)
			}
		case map[string]any:
			for k, e := range x {
				switch {
				case top && (k == "id" || k == "meta" || k == "resourceType"), k == "data":
				case k == "div":
					b.WriteString(strip(fmt.Sprint(e)) + " ")
				default:
					walk(e, false)
				}
			}
		}
	}
	walk(m, true)
	return fold(b.String())
}

// matchText: some comma-separated value whose space-separated terms all
// occur in text.
func matchText(text, q string) bool {
	for _, alt := range strings.Split(q, ",") {
		all := true
		for _, term := range strings.Fields(fold(alt)) {
			all = all && strings.Contains(text, term)
		}
		if all {
			return true
		}
	}
	return false
}
