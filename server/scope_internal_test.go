package server

import (
	"testing"

	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// TestScopeOf: how SMART scopes become the store's access scope.
func TestScopeOf(t *testing.T) {
	s := &Server{}
	principal := func(scopes, patient string) *auth.Principal {
		sc, _, err := auth.ParseScopes(scopes)
		if err != nil {
			t.Fatal(err)
		}
		return &auth.Principal{Subject: "x", Scopes: sc, Patient: patient}
	}
	for _, tc := range []struct {
		name, scopes, patient string
		wantNil, wantErr      bool
		confinedRead          []string // types confined for reading
		openRead              []string // compartment types not confined
		restricted            []string // types with granular restrictions
	}{
		{name: "user scopes only", scopes: "user/*.cruds", wantNil: true},
		{name: "system scopes only", scopes: "system/Observation.rs", wantNil: true},
		{name: "patient scopes", scopes: "patient/*.rs", patient: "p1",
			confinedRead: []string{"Observation", "Patient", "Encounter", "AuditEvent"}},
		{name: "patient scopes need a context", scopes: "patient/Observation.rs", wantErr: true},
		{name: "user grant opens its type", scopes: "patient/*.rs user/Observation.rs", patient: "p1",
			confinedRead: []string{"Patient", "Condition"}, openRead: []string{"Observation"}},
		{name: "user write does not open reads", scopes: "patient/Observation.rs user/Observation.c", patient: "p1",
			confinedRead: []string{"Observation"}},
		{name: "granular patient scope", scopes: "patient/Observation.rs?category=vital-signs", patient: "p1",
			confinedRead: []string{"Observation"}, restricted: []string{"Observation"}},
		{name: "unrestricted grant lifts the restriction", scopes: "user/Observation.rs?category=vital-signs user/Observation.rs",
			wantNil: true},
		{name: "user restriction wins over patient", scopes: "patient/Observation.rs user/Observation.rs?category=laboratory", patient: "p1",
			openRead: []string{"Observation"}, restricted: []string{"Observation"}},
		{name: "restriction on a string parameter", scopes: "user/Patient.rs?name=x", wantErr: true},
		{name: "restriction on all types", scopes: "user/*.rs?category=x", wantErr: true},
		{name: "restriction on an unknown parameter", scopes: "user/Observation.rs?nonsense=1", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sco, err := s.scopeOf(principal(tc.scopes, tc.patient))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if (sco == nil) != tc.wantNil {
				t.Fatalf("scope %+v, want nil %v", sco, tc.wantNil)
			}
			for _, typ := range tc.confinedRead {
				if !sco.Limits(typ, false) || sco.Compartment == nil || sco.ReadOpen[typ] || sco.ReadOpen["*"] {
					t.Errorf("%s should be confined to the compartment", typ)
				}
			}
			for _, typ := range tc.openRead {
				if !sco.ReadOpen[typ] {
					t.Errorf("%s should be open for reading", typ)
				}
			}
			for _, typ := range tc.restricted {
				if len(sco.Restrict[typ]) == 0 {
					t.Errorf("%s should carry a granular restriction", typ)
				}
			}
			if sco != nil && sco.Compartment != nil && (sco.Compartment.Type != "Patient" || sco.Compartment.ID != tc.patient) {
				t.Errorf("compartment %s/%s", sco.Compartment.Type, sco.Compartment.ID)
			}
		})
	}
}
