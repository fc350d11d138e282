package server

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// Rate limiting: one token bucket per client. A client is the authenticated
// principal (issuer and subject, the client_id when a token has no subject,
// the Device of a client certificate) or, for requests that are not
// authenticated, the remote address (an IPv6 address by its /64, which is
// what one host usually gets).
//
// With authentication on, two middlewares cooperate around it:
//
//   - limitAddr runs before authentication. It refuses the request when the
//     remote address's bucket is empty, and after the request charges that
//     bucket if the request never reached limitClient, i.e. its
//     authentication failed. Only unauthenticated traffic drains an address,
//     so many authenticated clients behind one NAT do not share a bucket,
//     while a flood of bad tokens is refused before any signature is checked.
//   - limitClient runs after authentication and charges the principal's
//     bucket, or the address's when the request carries no principal (the
//     CapabilityStatement, or a server without authentication).
//
// Memory is bounded: a bucket that has refilled completely carries no state
// and is swept; past the cap a new client replaces the fullest of a few
// sampled buckets, never one that is being throttled.

const (
	limitShards = 64
	// defaultMaxClients bounds the buckets kept (about 150 bytes each).
	defaultMaxClients = 100_000
	// evictSample is how many buckets are compared when one must go.
	evictSample = 8
)

// clientKey identifies a client: an address, or an issuer and subject.
type clientKey struct {
	addr            netip.Addr
	issuer, subject string
}

type bucket struct {
	tokens float64
	last   time.Duration // since limiter.epoch
	// refused counts the refusals not yet audited; audited is when the
	// last audited one was, if any (see use).
	refused    int
	audited    time.Duration
	hasAudited bool
}

// auditEvery is the shortest interval between two audited refusals of one
// client: a throttled client's flood must not become a flood of audit
// writes. The first refusal is audited at once.
const auditEvery = time.Second

type limitShard struct {
	mu        sync.Mutex
	buckets   map[clientKey]*bucket
	lastSweep time.Duration
	_         [40]byte // keep shards on separate cache lines
}

// limiter is a set of token buckets, sharded by client so that clients
// rarely contend for a lock.
type limiter struct {
	rate       float64 // tokens per second
	burst      float64
	perShard   int
	sweepEvery time.Duration
	now        func() time.Time
	epoch      time.Time
	seed       maphash.Seed
	shards     [limitShards]limitShard
}

func newLimiter(rate float64, burst, maxClients int, now func() time.Time) *limiter {
	if now == nil {
		now = time.Now
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(2*rate)))
	}
	if maxClients <= 0 {
		maxClients = defaultMaxClients
	}
	l := &limiter{rate: rate, burst: float64(burst), perShard: max(2, maxClients/limitShards), now: now,
		epoch: now(), seed: maphash.MakeSeed()}
	// A bucket is full again burst/rate after its last request; sweeping
	// more often than that finds little.
	l.sweepEvery = max(time.Minute, time.Duration(l.burst/rate*float64(time.Second)))
	for i := range l.shards {
		l.shards[i].buckets = make(map[clientKey]*bucket)
	}
	return l
}

func (l *limiter) shard(k clientKey) *limitShard {
	var h uint64
	if k.addr.IsValid() {
		a := k.addr.As16()
		h = maphash.Bytes(l.seed, a[:])
	} else {
		h = maphash.String(l.seed, k.subject) ^ maphash.String(l.seed, k.issuer)
	}
	return &l.shards[h%limitShards]
}

// refill brings b up to date at now and returns its tokens.
func (l *limiter) refill(b *bucket, now time.Duration) float64 {
	if d := now - b.last; d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	return b.tokens
}

// wait is how long until b holds a whole token again.
func (l *limiter) wait(tokens float64) time.Duration {
	return time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// How use spends k's token.
const (
	spendIfAny = iota // take: spend one when there is one
	spendNone         // check: look only
	spendDebt         // charge: spend one even into debt, down to -burst
)

// use is take, check and charge: it reports whether k's bucket holds a
// token (with the wait for one when it does not) and spends as mode says.
// A client without a bucket holds burst tokens. A refusal that is to be
// audited (the first, then at most one per auditEvery) reports how many
// refusals it stands for; the others report 0.
func (l *limiter) use(k clientKey, mode int) (bool, time.Duration, int) {
	now := l.now().Sub(l.epoch)
	s := l.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[k]
	if b == nil {
		if mode != spendNone {
			s.insert(l, k, &bucket{tokens: l.burst - 1, last: now}, now)
		}
		return true, 0, 0
	}
	t := l.refill(b, now)
	switch {
	case mode == spendDebt:
		b.tokens = max(-l.burst, t-1)
	case t < 1:
		b.refused++
		report := 0
		if !b.hasAudited || now-b.audited >= auditEvery {
			report, b.refused, b.audited, b.hasAudited = b.refused, 0, now, true
		}
		return false, l.wait(t), report
	case mode == spendIfAny:
		b.tokens--
	}
	return true, 0, 0
}

// take spends one token of k's bucket. When the bucket is empty it spends
// nothing and returns false with the time until a token is available.
func (l *limiter) take(k clientKey) (bool, time.Duration, int) { return l.use(k, spendIfAny) }

// check reports whether k's bucket holds a token, without spending it.
func (l *limiter) check(k clientKey) (bool, time.Duration, int) { return l.use(k, spendNone) }

// charge spends one token of k's bucket after the fact. Concurrent requests
// that all passed check may take the bucket below zero, down to -burst: the
// debt is repaid before the client is served again.
func (l *limiter) charge(k clientKey) { l.use(k, spendDebt) }

// insert adds a bucket, first sweeping full buckets when a sweep is due or
// the shard is at its cap, then evicting the fullest of a sample if it still
// is. Called with s.mu held.
func (s *limitShard) insert(l *limiter, k clientKey, b *bucket, now time.Duration) {
	if len(s.buckets) >= l.perShard || now-s.lastSweep >= l.sweepEvery {
		s.lastSweep = now
		for key, old := range s.buckets {
			if l.refill(old, now) >= l.burst {
				delete(s.buckets, key)
			}
		}
	}
	if len(s.buckets) >= l.perShard {
		var victim clientKey
		most, n := math.Inf(-1), 0
		for key, old := range s.buckets { // map order is random: a random sample
			if t := l.refill(old, now); t > most {
				victim, most = key, t
			}
			if n++; n == evictSample {
				break
			}
		}
		delete(s.buckets, victim)
	}
	s.buckets[k] = b
}

// size is the number of buckets held.
func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// principalKey is the bucket key of an authenticated principal.
func principalKey(p *auth.Principal) clientKey {
	switch {
	case p.Subject != "":
		// A device certificate's principal has no issuer; its subject
		// (Device/<cn>) cannot collide with a token's, whose issuer is set.
		return clientKey{issuer: p.Issuer, subject: p.Subject}
	case p.ClientID != "":
		// Issuers are absolute URLs, so this never equals one.
		return clientKey{issuer: "client_id", subject: p.ClientID}
	}
	return clientKey{issuer: p.Issuer}
}

// addrKey is the bucket key of the request's remote address.
func addrKey(r *http.Request) clientKey {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, err := netip.ParseAddr(r.RemoteAddr)
		if err != nil {
			return clientKey{issuer: "remote", subject: r.RemoteAddr}
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return clientKey{addr: a}
}

// limitMark records that limitClient charged the request.
type limitMark struct{ charged bool }

type limitMarkKey struct{}

// limitAddr refuses requests from an address whose bucket is empty, and
// charges the address for requests that did not authenticate (see above).
func (s *Server) limitAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := addrKey(r)
		if ok, wait, report := s.limits.check(k); !ok {
			s.throttle(w, r, wait, report)
			return
		}
		m := &limitMark{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), limitMarkKey{}, m)))
		if !m.charged {
			s.limits.charge(k)
		}
	})
}

// limitClient charges the principal's bucket, or the address's when the
// request is not authenticated.
func (s *Server) limitClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var k clientKey
		if p, ok := auth.FromContext(ctx); ok {
			k = principalKey(p)
		} else {
			k = addrKey(r)
		}
		if m, ok := ctx.Value(limitMarkKey{}).(*limitMark); ok {
			m.charged = true
		}
		if ok, wait, report := s.limits.take(k); !ok {
			s.throttle(w, r, wait, report)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// throttle answers 429 with Retry-After in whole seconds (at least 1). A
// refusal that reports refusals (see limiter.use) is audited, saying how
// many it stands for.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, wait time.Duration, report int) {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	var audit func(int)
	if report > 0 {
		audit = func(status int) {
			r := r.WithContext(context.WithValue(r.Context(), refusalsKey{}, report))
			s.audit.record(r, "throttled", "", "", status)
		}
	}
	status := s.write(w, r, fhirJSON, nil, errorf(http.StatusTooManyRequests, "throttled",
		"too many requests from this client; retry after %d s", secs), audit)
	s.metrics.observe("throttled", "", status, 0)
}

// guard wraps the FHIR routes in authentication and rate limiting, in the
// order described above.
func (s *Server) guard(api http.Handler) http.Handler {
	switch {
	case s.cfg.Auth != nil && s.limits != nil:
		return s.limitAddr(s.authenticate(s.limitClient(api)))
	case s.cfg.Auth != nil:
		return s.authenticate(api)
	case s.limits != nil:
		return s.limitClient(api)
	}
	return api
}

// bodyTooLarge is the 413 error for a body read that hit the body limit
// (http.MaxBytesReader), or nil for other errors.
func bodyTooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, "too-costly", "%s", tooLarge(mbe.Limit))
	}
	return nil
}
