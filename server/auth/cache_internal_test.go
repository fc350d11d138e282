package auth

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTokenCacheExactToken: an entry answers only for the token it was made
// from. Two tokens whose hashes collide (forced here by filing one token's
// entry under the other's hash) never share a principal; the later put
// replaces the earlier entry.
func TestTokenCacheExactToken(t *testing.T) {
	c := newTokenCache(time.Minute, 100)
	now := time.Now()
	alice := &Principal{Subject: "alice"}
	e := cacheEntry{token: "alice.token.sig", p: alice, validUntil: now.Add(time.Minute)}
	c.put(e)
	if p, ok := c.get("alice.token.sig", now); !ok || p != alice {
		t.Fatalf("get(alice) = %v, %v", p, ok)
	}
	// Forge a collision: mallory's token finds alice's entry by its hash.
	mallory := "mallory.token.sig"
	key := c.key(mallory)
	sh := &c.shards[key%cacheShards]
	sh.m[key] = e
	sh.bytes += len(e.token)
	if p, ok := c.get(mallory, now); ok {
		t.Fatalf("a token whose hash collides got %q's principal", p.Subject)
	}
	mal := &Principal{Subject: "mallory"}
	c.put(cacheEntry{token: mallory, p: mal, validUntil: now.Add(time.Minute)})
	if p, ok := c.get(mallory, now); !ok || p != mal {
		t.Fatalf("after put, get(mallory) = %v, %v", p, ok)
	}
	checkBytes(t, c)
}

// TestTokenCacheBytes: the cache holds at most maxCachedTokenBytes of tokens
// however large they are, keeps its byte count exact through expiry,
// replacement and eviction, and does not keep a token larger than a shard's
// share.
func TestTokenCacheBytes(t *testing.T) {
	c := newTokenCache(time.Minute, 1_000_000)
	now := time.Now()
	for i := range 3000 {
		tok := strings.Repeat("x", 12<<10) + "." + strings.Repeat("y", i%7) + "." + strconv.Itoa(i)
		c.put(cacheEntry{token: tok, p: &Principal{}, validUntil: now.Add(time.Duration(i%3) * time.Second)})
	}
	total := checkBytes(t, c)
	if total > maxCachedTokenBytes {
		t.Fatalf("%d bytes of tokens cached, bound %d", total, maxCachedTokenBytes)
	}
	if total < maxCachedTokenBytes/2 {
		t.Fatalf("only %d bytes of tokens cached of %d allowed: eviction drops too much", total, maxCachedTokenBytes)
	}
	// Expired entries leave on lookup.
	for i := range 3000 {
		c.get(strings.Repeat("x", 12<<10)+"."+strings.Repeat("y", i%7)+"."+strconv.Itoa(i), now.Add(time.Hour))
	}
	if total := checkBytes(t, c); total != 0 {
		t.Fatalf("%d bytes left after every entry expired", total)
	}
	c.put(cacheEntry{token: strings.Repeat("z", c.maxBytes+1), p: &Principal{}, validUntil: now.Add(time.Minute)})
	if n := c.len(); n != 0 {
		t.Fatalf("a token larger than a shard's share was cached (%d entries)", n)
	}
}

// checkBytes checks each shard's byte count against its entries and
// returns the total.
func checkBytes(t *testing.T, c *tokenCache) int {
	t.Helper()
	total := 0
	for i := range c.shards {
		sh := &c.shards[i]
		n := 0
		for _, e := range sh.m {
			n += len(e.token)
		}
		if n != sh.bytes {
			t.Fatalf("shard %d counts %d bytes, holds %d", i, sh.bytes, n)
		}
		if n > c.maxBytes {
			t.Fatalf("shard %d holds %d bytes, bound %d", i, n, c.maxBytes)
		}
		total += n
	}
	return total
}
