package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/auth/authtest"
)

// TestTokenCache: a verified token is remembered until its expiry or the
// TTL, whichever is first; the cache is bounded; it can be turned off.
func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	iss := authtest.NewIssuer(t)
	now := time.Now()
	clock := func() time.Time { return now }

	v := newVerifier(t, auth.Config{CacheTTL: time.Minute, ClockSkew: 10 * time.Second}, iss)
	auth.SetClock(v, clock)
	tok := iss.Sign(iss.Claims("alice", "user/*.rs", map[string]any{"exp": now.Add(5 * time.Minute).Unix()}))
	p1, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := v.Verify(ctx, tok)
	if err != nil || p2 != p1 {
		t.Fatalf("second use of a token: %p %p %v (want the remembered principal)", p1, p2, err)
	}

	// A key withdrawn from the JWKS admits its cached tokens until the TTL
	// ends; then the token is verified again. (Whether the withdrawn key then
	// fails depends on when go-oidc's own key set notices the rotation:
	// it stores the fetched set a moment after answering, so that is not
	// asserted here; TestKeyRotation covers it without the cache's clock.)
	iss.Rotate()
	if _, err := v.Verify(ctx, iss.Sign(iss.Claims("alice", "user/*.rs", map[string]any{"exp": now.Add(5 * time.Minute).Unix()}))); err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(ctx, tok); err != nil || p != p1 {
		t.Fatalf("within the TTL after rotation: %p %v (want the remembered principal)", p, err)
	}
	now = now.Add(61 * time.Second)
	if p, err := v.Verify(ctx, tok); err == nil && p == p1 {
		t.Fatal("the cache answered after its TTL")
	}

	// The cache never extends a token past its exp (plus skew).
	short := iss.Sign(iss.Claims("bob", "user/*.rs", map[string]any{"exp": now.Add(20 * time.Second).Unix()}))
	if _, err := v.Verify(ctx, short); err != nil {
		t.Fatal(err)
	}
	now = now.Add(29 * time.Second)
	if _, err := v.Verify(ctx, short); err != nil {
		t.Fatalf("within exp + skew: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := v.Verify(ctx, short); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}

	// Bounded.
	small := newVerifier(t, auth.Config{CacheSize: 32}, iss)
	for i := range 100 {
		if _, err := small.Verify(ctx, iss.Token(t, "user"+string(rune('a'+i%26))+time.Duration(i).String(), "user/*.rs", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := auth.CachedTokens(small); n == 0 || n > 32 {
		t.Fatalf("%d tokens cached with CacheSize 32", n)
	}

	// Off.
	off := newVerifier(t, auth.Config{CacheTTL: -1}, iss)
	t2 := iss.Token(t, "carol", "user/*.rs", nil)
	a, _ := off.Verify(ctx, t2)
	b, _ := off.Verify(ctx, t2)
	if a == nil || a == b || auth.CachedTokens(off) != 0 {
		t.Fatal("CacheTTL < 0 must verify every time")
	}
}
