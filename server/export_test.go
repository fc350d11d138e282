package server

import "time"

// SetRateLimitClock rebuilds the server's rate limiter with clock now and
// room for maxClients buckets (0 for the default). Call it before serving.
func SetRateLimitClock(s *Server, now func() time.Time, maxClients int) {
	s.limits = newLimiter(s.cfg.RateLimit, s.cfg.RateBurst, maxClients, now)
}

// RateLimitClients is the number of buckets the rate limiter holds.
func RateLimitClients(s *Server) int { return s.limits.size() }
