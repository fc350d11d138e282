package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Codec encodes response bodies in one wire format. Only FHIR JSON is
// offered; the interface keeps negotiation out of the handlers.
type Codec interface {
	// ContentType is the value of the response's Content-Type header.
	ContentType() string
	// Encode writes a JSON resource (already FHIR JSON) in this format.
	Encode(w *bytes.Buffer, resource []byte, pretty bool) error
}

type jsonCodec struct{ contentType string }

func (c jsonCodec) ContentType() string { return c.contentType + "; charset=utf-8" }

func (c jsonCodec) Encode(w *bytes.Buffer, resource []byte, pretty bool) error {
	if pretty {
		return json.Indent(w, resource, "", "  ")
	}
	_, err := w.Write(resource)
	return err
}

var (
	fhirJSON  Codec = jsonCodec{"application/fhir+json"}
	plainJSON Codec = jsonCodec{"application/json"}
)

// formats maps _format values and media types to codecs; a nil codec is a
// format we know but do not serve.
var formats = map[string]Codec{
	"json":                  fhirJSON,
	"application/fhir+json": fhirJSON,
	"application/json+fhir": fhirJSON,
	"application/json":      plainJSON,
	"application/*":         fhirJSON,
	"*/*":                   fhirJSON,
	"xml":                   nil,
	"text/xml":              nil,
	"application/xml":       nil,
	"application/fhir+xml":  nil,
	"application/xml+fhir":  nil,
	"ttl":                   nil,
	"text/turtle":           nil,
}

// negotiate chooses the response codec from _format, then Accept.
func negotiate(r *http.Request) (Codec, error) {
	if f := r.URL.Query().Get("_format"); f != "" {
		mt := strings.TrimSpace(strings.SplitN(f, ";", 2)[0])
		if c, ok := formats[strings.ToLower(mt)]; ok && c != nil {
			return c, nil
		}
		return nil, errorAt(http.StatusNotAcceptable, "not-supported", "_format",
			"_format %q is not supported; this server speaks FHIR JSON (_format=json, application/fhir+json or application/json)", f)
	}
	accept := r.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return fhirJSON, nil
	}
	var best Codec
	bestQ := 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		if c := formats[mt]; c != nil && q > bestQ {
			best, bestQ = c, q
		}
	}
	if best == nil {
		return nil, errorf(http.StatusNotAcceptable, "not-supported",
			"none of the media types in Accept (%s) can be produced; this server speaks application/fhir+json and application/json", accept)
	}
	return best, nil
}

// checkContentType accepts a JSON request body (or one without a type) and
// rejects anything else with 415. want lists extra accepted media types.
func checkContentType(r *http.Request, want ...string) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errorf(http.StatusUnsupportedMediaType, "not-supported", "Content-Type %q cannot be parsed", ct)
	}
	switch mt {
	case "application/fhir+json", "application/json", "application/json+fhir":
		return mt, nil
	}
	for _, w := range want {
		if mt == w {
			return mt, nil
		}
	}
	return "", errorf(http.StatusUnsupportedMediaType, "not-supported",
		"Content-Type %q is not supported here; send application/fhir+json%s", mt, extra(want))
}

func extra(want []string) string {
	if len(want) == 0 {
		return ""
	}
	return " or " + strings.Join(want, " or ")
}
