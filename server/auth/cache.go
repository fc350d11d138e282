package auth

import (
	"hash/maphash"
	"sync"
	"time"
)

// tokenCache remembers tokens verified recently, so that a client sending
// the same bearer token on every request pays for one signature check per
// TTL instead of one per request (an RS256 check and the claims' JSON are
// most of what authentication costs). Entries are keyed by the token itself
// (a map with string keys hashes them with a seed random per map and
// compares them whole: tens of times cheaper than the SHA-256 of a kilobyte
// token it replaced, which was a third of a cached request's
// authentication). They hold the immutable Principal, and end at the token's own expiry
// (plus skew) or after the TTL, whichever is first; a token is never valid
// longer from the cache than it would be verified afresh, except that a key
// withdrawn from the issuer's JWKS keeps admitting its tokens for up to the
// TTL. Failures are never cached.
type tokenCache struct {
	ttl      time.Duration
	max      int          // entries per shard
	maxBytes int          // bytes of tokens per shard
	seed     maphash.Seed // picks a token's shard (shard)
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu    sync.Mutex
	m     map[string]cacheEntry // by token
	bytes int                   // of the tokens held
}

// maxCachedTokenBytes bounds the bytes of the tokens the cache keeps, over
// all shards: about 16,000 tokens of a kilobyte; fewer when they are
// larger (up to maxTokenBytes each).
const maxCachedTokenBytes = 16 << 20

type cacheEntry struct {
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
		c.shards[i].m = map[string]cacheEntry{}
	}
	return c
}

// shard is the shard holding token's entry, chosen by the token's last
// bytes (a JWT's end is its signature), so that a token is hashed whole
// once, by its shard's map.
func (c *tokenCache) shard(token string) *cacheShard {
	return &c.shards[maphash.String(c.seed, token[max(0, len(token)-16):])%cacheShards]
}

func (c *tokenCache) get(token string, now time.Time) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	sh := c.shard(token)
	sh.mu.Lock()
	e, ok := sh.m[token]
	if ok && (!now.Before(e.validUntil) || now.Before(e.notBefore)) {
		if !now.Before(e.validUntil) {
			sh.drop(token)
		}
		ok = false
	}
	sh.mu.Unlock()
	return e.p, ok
}

func (c *tokenCache) put(token string, e cacheEntry) {
	if c == nil || len(token) > c.maxBytes {
		return
	}
	sh := c.shard(token)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.drop(token)
	if len(sh.m) >= c.max || sh.bytes+len(token) > c.maxBytes {
		// Drop what has ended; if the shard is still full, drop arbitrary
		// entries (map order): they are only re-verified on next use.
		now := time.Now()
		for k, old := range sh.m {
			if !now.Before(old.validUntil) {
				sh.drop(k)
			}
		}
		for k := range sh.m {
			if len(sh.m) < c.max && sh.bytes+len(token) <= c.maxBytes {
				break
			}
			sh.drop(k)
		}
	}
	sh.m[token] = e
	sh.bytes += len(token)
}

// drop removes the entry of token, if any (sh.mu held).
func (sh *cacheShard) drop(token string) {
	if _, ok := sh.m[token]; ok {
		sh.bytes -= len(token)
		delete(sh.m, token)
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
