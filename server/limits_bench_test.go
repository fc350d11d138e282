package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// nopWriter is a ResponseWriter that keeps one header map and discards the
// rest, so benchmarks measure the middleware only.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkRateLimit measures the rate-limit middlewares on the hot path: a
// client well within its limit. "auth" is the arrangement with
// authentication on (address check before it, principal bucket after);
// "address" is a server without authentication.
func BenchmarkRateLimit(b *testing.B) {
	s := &Server{limits: newLimiter(1e12, 1e12, 0, nil)}
	p := &auth.Principal{Issuer: "https://idp.example.cn/realms/yiyang", Subject: "6f1c2a9e-dr-li"}
	authed := httptest.NewRequest("GET", "/Patient/p1", nil)
	authed.RemoteAddr = "10.20.30.40:51234"
	authed = authed.WithContext(auth.NewContext(authed.Context(), p))
	anon := httptest.NewRequest("GET", "/Patient/p1", nil)
	anon.RemoteAddr = "[2001:db8::17]:51234"
	for _, bc := range []struct {
		name string
		h    http.Handler
		r    *http.Request
	}{
		{"principal", s.limitClient(nop), authed},
		{"address", s.limitClient(nop), anon},
		{"auth", s.limitAddr(s.limitClient(nop)), authed},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, bc.r)
			}
		})
	}
	// Many clients at once, each its own principal: shard contention.
	b.Run("parallel", func(b *testing.B) {
		h := s.limitAddr(s.limitClient(nop))
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := n.Add(1)
			r := httptest.NewRequest("GET", "/Patient/p1", nil)
			r.RemoteAddr = "10.0.0." + strconv.FormatInt(i%250, 10) + ":1"
			r = r.WithContext(auth.NewContext(r.Context(), &auth.Principal{Issuer: p.Issuer, Subject: "user-" + strconv.FormatInt(i, 10)}))
			w := &nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	})
}

// BenchmarkSecurityHeaders measures the headers set on every response, with
// CORS on and a request from an allowed origin.
func BenchmarkSecurityHeaders(b *testing.B) {
	origins, _ := ParseCORSOrigins([]string{"https://app.example.cn"})
	h := securityHeaders(cors(origins, nop))
	r := httptest.NewRequest("GET", "/Patient/p1", nil)
	plain := httptest.NewRequest("GET", "/Patient/p1", nil)
	r.Header.Set("Origin", "https://app.example.cn")
	for _, bc := range []struct {
		name string
		r    *http.Request
	}{{"no-origin", plain}, {"allowed-origin", r}} {
		b.Run(bc.name, func(b *testing.B) {
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, bc.r)
			}
		})
	}
}
