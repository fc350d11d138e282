package auth

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache remembers tokens verified recently, so that a client sending
// the same bearer token on every request pays for one signature check per
// TTL instead of one per request (an RS256 check and the claims' JSON are
// most of what authentication costs). Entries are found by a seeded hash of
// the token (hash/maphash, random per process: tens of times cheaper than a
// SHA-256 of a kilobyte token, which was a third of a cached request's
// authentication) and answer only for the very token they were made from,
// which they keep: a hash collision is a miss, never another token's
// principal. They hold the immutable Principal, and end at the token's own expiry
// (plus skew) or after the TTL, whichever is first; a token is never valid
// longer from the cache than it would be verified afresh, except that a key
// withdrawn from the issuer's JWKS keeps admitting its tokens for up to the
// TTL. Failures are never cached.
type tokenCache struct {
	ttl      time.Duration
	max      int // entries per shard
	maxBytes int // bytes of tokens per shard
	seed     maphash.Seed
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu    sync.Mutex
	m     map[uint64]cacheEntry
	bytes int // of the tokens held
}

// maxCachedTokenBytes bounds the bytes of the tokens the cache keeps, over
// all shards: about 16,000 tokens of a kilobyte; fewer when they are
// larger (up to maxTokenBytes each).
const maxCachedTokenBytes = 16 << 20

type cacheEntry struct {
	token      string
	p          *Principal
	notBefore  time.Time // nbf minus skew; zero when the token has none
	validUntil time.Time // min(exp + skew, verified + TTL)
}

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	if ttl <= 0 || size <= 0 {
		return nil
	}
	c := &tokenCache{ttl: ttl, max: max(1, size/cacheShards), maxBytes: maxCachedTokenBytes / cacheShards, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[uint64]cacheEntry{}
	}
	return c
}

// key is the hash of token that finds its entry.
func (c *tokenCache) key(token string) uint64 { return maphash.String(c.seed, token) }

func (c *tokenCache) get(token string, now time.Time) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	key := c.key(token)
	sh := &c.shards[key%cacheShards]
	sh.mu.Lock()
	e, ok := sh.m[key]
	ok = ok && e.token == token
	if ok && (!now.Before(e.validUntil) || now.Before(e.notBefore)) {
		if !now.Before(e.validUntil) {
			sh.drop(key)
		}
		ok = false
	}
	sh.mu.Unlock()
	return e.p, ok
}

func (c *tokenCache) put(e cacheEntry) {
	if c == nil || len(e.token) > c.maxBytes {
		return
	}
	key := c.key(e.token)
	sh := &c.shards[key%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.drop(key) // a colliding token's entry gives way
	if len(sh.m) >= c.max || sh.bytes+len(e.token) > c.maxBytes {
		// Drop what has ended; if the shard is still full, drop arbitrary
		// entries (map order): they are only re-verified on next use.
		now := time.Now()
		for k, old := range sh.m {
			if !now.Before(old.validUntil) {
				sh.drop(k)
			}
		}
		for k := range sh.m {
			if len(sh.m) < c.max && sh.bytes+len(e.token) <= c.maxBytes {
				break
			}
			sh.drop(k)
		}
	}
	sh.m[key] = e
	sh.bytes += len(e.token)
}

// drop removes the entry of key, if any (sh.mu held).
func (sh *cacheShard) drop(key uint64) {
	if old, ok := sh.m[key]; ok {
		sh.bytes -= len(old.token)
		delete(sh.m, key)
	}
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
