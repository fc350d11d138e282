package fhirpath

import (
	"encoding/json"
	"github.com/meizhou-yiyang/yiyang/conformance/fhirdata"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// requireTestData skips (or fails under CI) when the shared data is absent.
func requireTestData(t testing.TB) string { return fhirdata.Require(t) }

type sdModel struct {
	elements  map[string]sdElement // "Type.path" → element
	base      map[string]string
	resources map[string]bool
	types     map[string]bool
}

type sdElement struct {
	types  []string
	choice bool
}

func (m *sdModel) ElementType(parent, name string) ([]string, bool, bool) {
	for t := parent; t != ""; t = m.base[t] {
		if e, ok := m.elements[t+"."+name]; ok {
			return e.types, e.choice, true
		}
	}
	return nil, false, false
}

func (m *sdModel) BaseType(t string) string { return m.base[t] }
func (m *sdModel) IsResource(t string) bool { return m.resources[t] }
func (m *sdModel) IsType(t string) bool     { return m.types[t] }

var (
	modelOnce sync.Once
	model     *sdModel
	modelErr  error
)

func loadModel(t testing.TB) *sdModel {
	t.Helper()
	dir := requireTestData(t)
	modelOnce.Do(func() { model, modelErr = buildModel(filepath.Join(dir, "r4-core")) })
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return model
}

type sdJSON struct {
	Kind           string `json:"kind"`
	Type           string `json:"type"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	Snapshot       struct {
		Element []struct {
			Path             string `json:"path"`
			ContentReference string `json:"contentReference"`
			Type             []struct {
				Code      string `json:"code"`
				Extension []struct {
					URL      string `json:"url"`
					ValueURL string `json:"valueUrl"`
				} `json:"extension"`
			} `json:"type"`
		} `json:"element"`
	} `json:"snapshot"`
}

func buildModel(dir string) (*sdModel, error) {
	files, err := filepath.Glob(filepath.Join(dir, "StructureDefinition-*.json"))
	if err != nil {
		return nil, err
	}
	m := &sdModel{elements: map[string]sdElement{}, base: map[string]string{}, resources: map[string]bool{}, types: map[string]bool{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var sd sdJSON
		if err := json.Unmarshal(data, &sd); err != nil {
			return nil, err
		}
		if sd.Kind == "logical" || sd.Derivation == "constraint" || sd.Type == "" {
			continue
		}
		m.types[sd.Type] = true
		if sd.BaseDefinition != "" {
			m.base[sd.Type] = sd.BaseDefinition[strings.LastIndex(sd.BaseDefinition, "/")+1:]
		}
		if sd.Kind == "resource" {
			m.resources[sd.Type] = true
		}
		for _, e := range sd.Snapshot.Element {
			i := strings.LastIndexByte(e.Path, '.')
			if i < 0 {
				continue
			}
			parent, name := e.Path[:i], e.Path[i+1:]
			el := sdElement{}
			if strings.HasSuffix(name, "[x]") {
				name, el.choice = strings.TrimSuffix(name, "[x]"), true
			}
			if e.ContentReference != "" {
				el.types = []string{strings.TrimPrefix(e.ContentReference, "#")}
			}
			for _, ty := range e.Type {
				code := ty.Code
				for _, x := range ty.Extension {
					if strings.HasSuffix(x.URL, "structuredefinition-fhir-type") {
						code = x.ValueURL
					}
				}
				if strings.HasPrefix(code, "http://hl7.org/fhirpath/System.") {
					code = strings.ToLower(strings.TrimPrefix(code, "http://hl7.org/fhirpath/System."))
				}
				if (code == "BackboneElement" || code == "Element") && parent != "" && i > 0 && strings.Contains(e.Path, ".") {
					// nested structure: its children are defined under its path
					m.types[e.Path] = true
					m.base[e.Path] = code
					code = e.Path
				}
				el.types = append(el.types, code)
			}
			if sd.Kind == "resource" && parent == sd.Type && name == "id" {
				el.types = []string{"id"} // the R4 snapshots say string; the spec says id
			}
			m.elements[parent+"."+name] = el
		}
	}
	// Element-typed members of data types (e.g. Timing.repeat) only get a
	// path type when they have children.
	for k, e := range m.elements {
		if len(e.types) == 1 && e.types[0] == k && !hasChildren(m, k) {
			e.types = []string{m.base[k]}
			m.elements[k] = e
		}
	}
	return m, nil
}

func hasChildren(m *sdModel, path string) bool {
	prefix := path + "."
	for k := range m.elements {
		if strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, prefix+"id") && !strings.HasPrefix(k, prefix+"extension") && !strings.HasPrefix(k, prefix+"modifierExtension") {
			return true
		}
	}
	return false
}

func TestModelLoads(t *testing.T) {
	m := loadModel(t)
	types, choice, ok := m.ElementType("Observation", "value")
	if !ok || !choice || len(types) == 0 {
		t.Fatalf("Observation.value: %v %v %v", types, choice, ok)
	}
	if types, _, ok := m.ElementType("Patient", "contact"); !ok || types[0] != "Patient.contact" {
		t.Fatalf("Patient.contact: %v", types)
	}
	if types, _, ok := m.ElementType("Patient", "id"); !ok || types[0] != "id" {
		t.Fatalf("Patient.id: %v", types)
	}
}
