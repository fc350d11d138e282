package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers tokens verified recently, so that a client sending
// the same bearer token on every request pays for one signature check per
// TTL instead of one per request (an RS256 check and the claims' JSON are
// most of what authentication costs). Entries are keyed by the SHA-256 of
// the token, hold the immutable Principal, and end at the token's own expiry
// (plus skew) or after the TTL, whichever is first; a token is never valid
// longer from the cache than it would be verified afresh, except that a key
// withdrawn from the issuer's JWKS keeps admitting its tokens for up to the
// TTL. Failures are never cached.
type tokenCache struct {
	ttl    time.Duration
	max    int // entries per shard
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu sync.Mutex
	m  map[[32]byte]cacheEntry
}

type cacheEntry struct {
	p          *Principal
	notBefore  time.Time // nbf minus skew; zero when the token has none
	validUntil time.Time // min(exp + skew, verified + TTL)
}

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	if ttl <= 0 || size <= 0 {
		return nil
	}
	c := &tokenCache{ttl: ttl, max: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = map[[32]byte]cacheEntry{}
	}
	return c
}

func (c *tokenCache) get(key [32]byte, now time.Time) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	sh := &c.shards[key[0]%cacheShards]
	sh.mu.Lock()
	e, ok := sh.m[key]
	if ok && (!now.Before(e.validUntil) || now.Before(e.notBefore)) {
		if !now.Before(e.validUntil) {
			delete(sh.m, key)
		}
		ok = false
	}
	sh.mu.Unlock()
	return e.p, ok
}

func (c *tokenCache) put(key [32]byte, e cacheEntry) {
	if c == nil {
		return
	}
	sh := &c.shards[key[0]%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.max {
		// Drop what has ended; if the shard is still full, drop arbitrary
		// entries (map order): they are only re-verified on next use.
		now := time.Now()
		for k, old := range sh.m {
			if !now.Before(old.validUntil) {
				delete(sh.m, k)
			}
		}
		for k := range sh.m {
			if len(sh.m) < c.max {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[key] = e
}

func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.Lock()
		n += len(c.shards[i].m)
		c.shards[i].mu.Unlock()
	}
	return n
}

func tokenKey(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }
