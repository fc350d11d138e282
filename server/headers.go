package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Response headers every answer carries. The values are shared slices
// assigned straight into the header map (no allocation per request); their
// capacity equals their length, so an Add elsewhere copies instead of
// writing into them.
var (
	nosniff        = fixed("nosniff")
	frameDeny      = fixed("DENY")
	apiCSP         = fixed("default-src 'none'; frame-ancestors 'none'")
	noReferrer     = fixed("no-referrer")
	noStore        = fixed("no-store")
	hsts           = fixed("max-age=31536000")
	varyOrigin     = fixed("Origin")
	varyPreflight  = fixed("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	corsMethods    = fixed("GET, POST, PUT, PATCH, DELETE, HEAD")
	corsReqHeaders = fixed("Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-None-Exist, " +
		"If-Modified-Since, X-Request-Id, X-Break-Glass-Reason")
	corsExpose = fixed("Location, Content-Location, ETag, Last-Modified, X-Request-Id, Retry-After, WWW-Authenticate")
	corsMaxAge = fixed("600")
)

func fixed(v string) []string { return []string{v}[:1:1] }

// securityHeaders sets the headers that keep browsers from misusing API
// responses: no MIME sniffing, no framing, no active content, no Referer,
// and HSTS on TLS connections.
//
// Cache-Control: no-store is the default for every response: they carry
// patient data, which must not stay in browser or proxy caches (shared
// workstations, shared proxies). A handler that sets Cache-Control itself
// wins. no-store does not interfere with versioning: ETag and Last-Modified
// are still sent, If-Match still guards updates, and a client that keeps
// its own copy can still revalidate it with If-None-Match or
// If-Modified-Since and get 304; only HTTP caches stop storing bodies.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniff
		h["X-Frame-Options"] = frameDeny
		h["Content-Security-Policy"] = apiCSP
		h["Referrer-Policy"] = noReferrer
		h["Cache-Control"] = noStore
		if r.TLS != nil {
			h["Strict-Transport-Security"] = hsts
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets browser apps served from the configured origins call the API.
// Preflight requests from those origins are answered here, before
// authentication (browsers send them without the Authorization header).
// Requests from other origins get no Access-Control-* header at all, exactly
// as if CORS were off, so the browser withholds the response from the page.
// Access-Control-Allow-Credentials is never sent: clients authenticate with
// bearer tokens in the Authorization header, not with cookies.
func cors(origins map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h["Vary"] = varyPreflight
		} else {
			h["Vary"] = varyOrigin // the answer depends on Origin
		}
		if origin == "" || !origins[strings.ToLower(origin)] {
			next.ServeHTTP(w, r)
			return
		}
		h["Access-Control-Allow-Origin"] = []string{origin}
		if preflight {
			h["Access-Control-Allow-Methods"] = corsMethods
			h["Access-Control-Allow-Headers"] = corsReqHeaders
			h["Access-Control-Max-Age"] = corsMaxAge
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h["Access-Control-Expose-Headers"] = corsExpose
		next.ServeHTTP(w, r)
	})
}

// ParseCORSOrigins checks a list of origins allowed to make cross-origin
// requests and returns them as a set. Each must be an exact origin,
// scheme://host[:port] with scheme http or https and nothing after; "*" and
// "null" are refused.
func ParseCORSOrigins(origins []string) (map[string]bool, error) {
	set := make(map[string]bool, len(origins))
	for _, o := range origins {
		u, err := url.Parse(o)
		switch {
		case o == "*" || o == "null":
			return nil, fmt.Errorf("CORS origin %q: list the exact origins of the apps (https://app.example.cn)", o)
		case err != nil:
			return nil, fmt.Errorf("CORS origin %q: %w", o, err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil, u.Path != "", u.RawQuery != "",
			u.Fragment != "", u.Opaque != "", strings.HasSuffix(o, "?"), strings.HasSuffix(o, "#"):
			return nil, fmt.Errorf("CORS origin %q: want scheme://host[:port], http or https, without a path or trailing slash", o)
		}
		set[strings.ToLower(o)] = true
	}
	return set, nil
}
