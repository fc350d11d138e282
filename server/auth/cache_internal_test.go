package auth

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTokenCacheExactToken: an entry answers only for the token it was made
// from. Tokens that differ in one byte, in the same shard (the same
// signature tail), never share a principal, and a token that differs from
// a cached one gets none; a later put replaces the earlier entry of its
// token only.
func TestTokenCacheExactToken(t *testing.T) {
	c := newTokenCache(time.Minute, 100)
	now := time.Now()
	alice, mallory := "eyJhbGc.alice.sig-0123456789abcdef", "eyJhbGc.alicf.sig-0123456789abcdef"
	if c.shard(alice) != c.shard(mallory) {
		t.Fatal("tokens with the same last bytes in different shards")
	}
	pa := &Principal{Subject: "alice"}
	c.put(alice, cacheEntry{p: pa, validUntil: now.Add(time.Minute)})
	if p, ok := c.get(alice, now); !ok || p != pa {
		t.Fatalf("get(alice) = %v, %v", p, ok)
	}
	if p, ok := c.get(mallory, now); ok {
		t.Fatalf("a token one byte off got %q's principal", p.Subject)
	}
	pm := &Principal{Subject: "mallory"}
	c.put(mallory, cacheEntry{p: pm, validUntil: now.Add(time.Minute)})
	if p, ok := c.get(mallory, now); !ok || p != pm {
		t.Fatalf("after put, get(mallory) = %v, %v", p, ok)
	}
	if p, ok := c.get(alice, now); !ok || p != pa {
		t.Fatalf("after mallory's put, get(alice) = %v, %v", p, ok)
	}
	pa2 := &Principal{Subject: "alice again"}
	c.put(alice, cacheEntry{p: pa2, validUntil: now.Add(time.Minute)})
	if p, ok := c.get(alice, now); !ok || p != pa2 || c.len() != 2 {
		t.Fatalf("after a second put, get(alice) = %v, %v with %d entries", p, ok, c.len())
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
		c.put(tok, cacheEntry{p: &Principal{}, validUntil: now.Add(time.Duration(i%3) * time.Second)})
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
	c.put(strings.Repeat("z", c.maxBytes+1), cacheEntry{p: &Principal{}, validUntil: now.Add(time.Minute)})
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
		for tok := range sh.m {
			n += len(tok)
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
