// Package conformance builds the server's CapabilityStatement from what the
// server actually registers, and will hold the definitions generated from the
// R4 core package.
package conformance

import (
	"encoding/json"
	"time"
)

// Description is what a server declares about itself.
type Description struct {
	Software, Version string
	// Started is the software's release or start date.
	Started time.Time
	// BaseURL is the implementation's address.
	BaseURL string
	// Types are the resource types served, with the interactions each supports.
	Types []TypeDescription
	// System are the whole-system interactions (transaction, batch, history-system, ...).
	System []string
	// Operations are the registered $operations.
	Operations []OperationDescription
	// Security is the rest.security element when authentication is on;
	// Insecure marks a server without it.
	Security json.RawMessage
	Insecure bool
}

// TypeDescription is one resource type's entry.
type TypeDescription struct {
	Type         string
	Interactions []string
	Operations   []OperationDescription
	SearchParams []SearchParamDescription
}

// SearchParamDescription is one supported search parameter.
type SearchParamDescription struct {
	Name string `json:"name"`
	// Definition is the SearchParameter's URL; empty for _list, which R4
	// defines without one.
	Definition string `json:"definition,omitempty"`
	Type       string `json:"type"`
}

// OperationDescription is one operation's entry.
type OperationDescription struct {
	Name, Definition string
}

type named struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

type code struct {
	Code string `json:"code"`
}

type restResource struct {
	Type              string                   `json:"type"`
	Profile           string                   `json:"profile"`
	Interaction       []code                   `json:"interaction"`
	Versioning        string                   `json:"versioning"`
	ReadHistory       bool                     `json:"readHistory"`
	UpdateCreate      bool                     `json:"updateCreate"`
	ConditionalCreate bool                     `json:"conditionalCreate"`
	ConditionalUpdate bool                     `json:"conditionalUpdate"`
	ConditionalDelete string                   `json:"conditionalDelete"`
	SearchParam       []SearchParamDescription `json:"searchParam,omitempty"`
	Operation         []named                  `json:"operation,omitempty"`
	ReferencePolicy   []string                 `json:"referencePolicy,omitempty"`
}

// CapabilityStatement renders d as an R4 CapabilityStatement (JSON).
func CapabilityStatement(d Description) ([]byte, error) {
	type security struct {
		Cors        bool   `json:"cors"`
		Description string `json:"description"`
	}
	type rest struct {
		Mode        string         `json:"mode"`
		Security    any            `json:"security"`
		Resource    []restResource `json:"resource"`
		Interaction []code         `json:"interaction,omitempty"`
		Operation   []named        `json:"operation,omitempty"`
	}
	cs := struct {
		ResourceType   string            `json:"resourceType"`
		Status         string            `json:"status"`
		Date           string            `json:"date"`
		Publisher      string            `json:"publisher"`
		Kind           string            `json:"kind"`
		Software       map[string]string `json:"software"`
		Implementation map[string]string `json:"implementation"`
		FHIRVersion    string            `json:"fhirVersion"`
		Format         []string          `json:"format"`
		PatchFormat    []string          `json:"patchFormat"`
		Rest           []rest            `json:"rest"`
	}{
		ResourceType:   "CapabilityStatement",
		Status:         "active",
		Date:           d.Started.UTC().Format("2006-01-02T15:04:05Z"),
		Publisher:      "Yiyang",
		Kind:           "instance",
		Software:       map[string]string{"name": d.Software, "version": d.Version},
		Implementation: map[string]string{"description": d.Software + " FHIR R4 server", "url": d.BaseURL},
		FHIRVersion:    "4.0.1",
		Format:         []string{"application/fhir+json", "json"},
		PatchFormat:    []string{"application/json-patch+json", "application/fhir+json"},
	}
	sec := security{Cors: false, Description: "Authentication is configured by the operator."}
	if d.Insecure {
		sec.Description = "WARNING: authentication is OFF on this server; every client has full access to all data."
	}
	r := rest{Mode: "server", Security: sec}
	if len(d.Security) > 0 && !d.Insecure {
		r.Security = d.Security
	}
	for _, t := range d.Types {
		rr := restResource{
			Type: t.Type, Profile: "http://hl7.org/fhir/StructureDefinition/" + t.Type,
			Versioning: "versioned-update", ReadHistory: true, UpdateCreate: true,
			ConditionalDelete: "not-supported", ReferencePolicy: []string{"literal", "local"},
		}
		for _, i := range t.Interactions {
			rr.Interaction = append(rr.Interaction, code{i})
		}
		rr.SearchParam = t.SearchParams
		for _, o := range t.Operations {
			rr.Operation = append(rr.Operation, named{o.Name, o.Definition})
		}
		r.Resource = append(r.Resource, rr)
	}
	for _, i := range d.System {
		r.Interaction = append(r.Interaction, code{i})
	}
	for _, o := range d.Operations {
		r.Operation = append(r.Operation, named{o.Name, o.Definition})
	}
	cs.Rest = []rest{r}
	return json.Marshal(cs)
}
