package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/postgres"
	"github.com/meizhou-yiyang/yiyang/resources/sqlite"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth"
)

// Config is every setting of the binary. Each has a flag and a YIYANG_*
// environment variable; flags win over the environment, which wins over the
// defaults.
type Config struct {
	Addr            string
	DB              string
	BaseURL         string
	MaxBodyBytes    int64
	LogLevel        string
	LogFormat       string
	SQLiteSync      string
	DBMaxConns      int
	ShutdownTimeout time.Duration
	// AuthIssuers and AuthAudiences configure bearer-token authentication:
	// one audience for all issuers or one per issuer.
	AuthIssuers   []string
	AuthAudiences []string
	// AuthDisabled runs without authentication; it must be chosen explicitly.
	AuthDisabled bool
	// TLSCert and TLSKey serve HTTPS (TLS 1.2 or 1.3); TLSClientCA, when
	// set, verifies client certificates: device bridges authenticate with
	// them (mutual TLS).
	TLSCert, TLSKey, TLSClientCA string
	// Audit is async (batched), sync (each event written before the
	// response) or off.
	Audit string
	// PolicyDir, when set, replaces the embedded Rego policy with the .rego
	// files in that directory.
	PolicyDir string
	// CORSOrigins are the exact origins of browser apps allowed to call the
	// API; empty turns CORS off.
	CORSOrigins []string
	// RateLimit is requests per second per client (0 = off); RateBurst the
	// requests a client may make at once (0 = twice RateLimit).
	RateLimit float64
	RateBurst int
}

// DefaultConfig is the zero-setup configuration: SQLite under ./data on port 8080.
func DefaultConfig() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		DB:              "sqlite:./data/yiyang.db",
		MaxBodyBytes:    16 << 20,
		LogLevel:        "info",
		LogFormat:       "text",
		SQLiteSync:      "FULL",
		ShutdownTimeout: 15 * time.Second,
		Audit:           "async",
	}
}

// bind registers the flags of cfg on fs, with environment overrides applied
// to the defaults first.
func (c *Config) bind(fs *flag.FlagSet) error {
	env := func(name string, apply func(string) error) error {
		if v, ok := os.LookupEnv("YIYANG_" + name); ok {
			if err := apply(v); err != nil {
				return fmt.Errorf("YIYANG_%s: %w", name, err)
			}
		}
		return nil
	}
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	errs := []error{
		env("ADDR", str(&c.Addr)),
		env("DB", str(&c.DB)),
		env("BASE_URL", str(&c.BaseURL)),
		env("LOG_LEVEL", str(&c.LogLevel)),
		env("LOG_FORMAT", str(&c.LogFormat)),
		env("SQLITE_SYNCHRONOUS", str(&c.SQLiteSync)),
		env("MAX_BODY_BYTES", func(v string) (err error) { c.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64); return }),
		env("DB_MAX_CONNS", func(v string) (err error) { c.DBMaxConns, err = strconv.Atoi(v); return }),
		env("SHUTDOWN_TIMEOUT", func(v string) (err error) { c.ShutdownTimeout, err = time.ParseDuration(v); return }),
		env("AUTH_ISSUER", func(v string) error { c.AuthIssuers = splitList(v); return nil }),
		env("AUTH_AUDIENCE", func(v string) error { c.AuthAudiences = splitList(v); return nil }),
		env("AUTH_DISABLED", func(v string) (err error) { c.AuthDisabled, err = strconv.ParseBool(v); return }),
		env("AUDIT", str(&c.Audit)),
		env("POLICY_DIR", str(&c.PolicyDir)),
		env("TLS_CERT", str(&c.TLSCert)),
		env("TLS_KEY", str(&c.TLSKey)),
		env("TLS_CLIENT_CA", str(&c.TLSClientCA)),
		env("CORS_ORIGINS", func(v string) error { c.CORSOrigins = splitList(v); return nil }),
		env("RATE_LIMIT", func(v string) (err error) { c.RateLimit, err = strconv.ParseFloat(v, 64); return }),
		env("RATE_BURST", func(v string) (err error) { c.RateBurst, err = strconv.Atoi(v); return }),
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address host:port; port 0 picks a free port (YIYANG_ADDR)")
	fs.StringVar(&c.DB, "db", c.DB, "database: sqlite:PATH or postgres://... (YIYANG_DB)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public base URL of the FHIR endpoint; empty derives it from requests (YIYANG_BASE_URL)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest accepted request body (YIYANG_MAX_BODY_BYTES)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (YIYANG_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (YIYANG_LOG_FORMAT)")
	fs.StringVar(&c.SQLiteSync, "sqlite-synchronous", c.SQLiteSync, "SQLite synchronous pragma: FULL or NORMAL (YIYANG_SQLITE_SYNCHRONOUS)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "PostgreSQL pool size; 0 = pgx default (YIYANG_DB_MAX_CONNS)")
	fs.Func("auth-issuer", "OIDC issuer URL whose bearer tokens are accepted; repeat or comma-separate for several (YIYANG_AUTH_ISSUER)",
		func(v string) error { c.AuthIssuers = append(c.AuthIssuers, splitList(v)...); return nil })
	fs.Func("auth-audience", "audience tokens must carry: one for all issuers, or one per issuer in order (YIYANG_AUTH_AUDIENCE)",
		func(v string) error { c.AuthAudiences = append(c.AuthAudiences, splitList(v)...); return nil })
	fs.BoolVar(&c.AuthDisabled, "auth-disabled", c.AuthDisabled, "run WITHOUT authentication: every client can read and change all data (YIYANG_AUTH_DISABLED)")
	fs.StringVar(&c.Audit, "audit", c.Audit, "AuditEvent for every interaction: async (batched; a crash loses at most the last 200 ms), sync or off (YIYANG_AUDIT)")
	fs.StringVar(&c.PolicyDir, "policy-dir", c.PolicyDir, "directory of .rego files replacing the embedded role policy (YIYANG_POLICY_DIR)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "PEM certificate (chain) to serve HTTPS with (YIYANG_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "PEM private key of --tls-cert (YIYANG_TLS_KEY)")
	fs.StringVar(&c.TLSClientCA, "tls-client-ca", c.TLSClientCA, "PEM CA bundle verifying client certificates of device bridges (mutual TLS) (YIYANG_TLS_CLIENT_CA)")
	corsFlag := false
	fs.Func("cors-origins", "exact origins (https://app.example.cn) of browser apps allowed to call the API; repeat or comma-separate; empty = CORS off (YIYANG_CORS_ORIGINS)",
		func(v string) error {
			if !corsFlag { // the flag replaces the environment's list
				c.CORSOrigins, corsFlag = nil, true
			}
			c.CORSOrigins = append(c.CORSOrigins, splitList(v)...)
			return nil
		})
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "requests per second each client may make (the token's principal, else the remote address); 0 = off (YIYANG_RATE_LIMIT)")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "requests a client may make at once above --rate-limit; 0 = twice --rate-limit (YIYANG_RATE_BURST)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long graceful shutdown waits for requests (YIYANG_SHUTDOWN_TIMEOUT)")
	return errors.Join(errs...)
}

func (c *Config) validate() error {
	var errs []error
	if _, _, err := splitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %w", c.Addr, err))
	}
	if _, _, err := parseDB(c.DB); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("--max-body-bytes %d: must be at least 1024", c.MaxBodyBytes))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: must be text or json", c.LogFormat))
	}
	if s := strings.ToUpper(c.SQLiteSync); s != "FULL" && s != "NORMAL" {
		errs = append(errs, fmt.Errorf("--sqlite-synchronous %q: must be FULL or NORMAL", c.SQLiteSync))
	}
	if c.DBMaxConns < 0 {
		errs = append(errs, fmt.Errorf("--db-max-conns %d: must not be negative", c.DBMaxConns))
	}
	if c.BaseURL != "" && !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		errs = append(errs, fmt.Errorf("--base-url %q: must start with http:// or https://", c.BaseURL))
	}
	if _, err := server.ParseCORSOrigins(c.CORSOrigins); err != nil {
		errs = append(errs, fmt.Errorf("--cors-origins: %w", err))
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("--rate-limit %v: must be a number of requests per second, 0 for off", c.RateLimit))
	}
	if c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("--rate-burst %d: must not be negative", c.RateBurst))
	}
	if c.RateBurst > 0 && c.RateLimit == 0 {
		errs = append(errs, errors.New("--rate-burst needs --rate-limit"))
	}
	switch c.Audit {
	case "async", "sync", "off":
	default:
		errs = append(errs, fmt.Errorf("--audit %q: must be async, sync or off", c.Audit))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.TLSClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key"))
	}
	if c.TLSClientCA != "" && c.AuthDisabled {
		errs = append(errs, errors.New("--tls-client-ca authenticates devices, which needs authentication on (not --auth-disabled)"))
	}
	switch {
	case c.AuthDisabled && len(c.AuthIssuers) > 0:
		errs = append(errs, errors.New("--auth-disabled and --auth-issuer contradict each other"))
	case !c.AuthDisabled && len(c.AuthIssuers) == 0:
		errs = append(errs, errors.New("authentication is not configured: give --auth-issuer and --auth-audience, or --auth-disabled to run without it"))
	case len(c.AuthIssuers) > 0 && len(c.AuthAudiences) != 1 && len(c.AuthAudiences) != len(c.AuthIssuers):
		errs = append(errs, fmt.Errorf("--auth-audience: give one audience for all issuers or one per issuer (%d issuers, %d audiences)",
			len(c.AuthIssuers), len(c.AuthAudiences)))
	}
	return errors.Join(errs...)
}

// auditConfig is the server's audit configuration; nil when off.
func (c *Config) auditConfig() *server.AuditConfig {
	switch c.Audit {
	case "sync":
		return &server.AuditConfig{Sync: true}
	case "async":
		return &server.AuditConfig{}
	}
	return nil
}

// tlsConfig loads the certificates; nil when TLS is off.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca: no PEM certificates in %s", c.TLSClientCA)
		}
		// Certificates are optional (apps use bearer tokens) but verified
		// when given: an unknown one fails the handshake.
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// authConfig returns the verifier configuration of the auth flags.
func (c *Config) authConfig(log *slog.Logger) auth.Config {
	ac := auth.Config{Logger: log}
	for i, iss := range c.AuthIssuers {
		aud := c.AuthAudiences[0]
		if len(c.AuthAudiences) > 1 {
			aud = c.AuthAudiences[i]
		}
		ac.Issuers = append(ac.Issuers, auth.Issuer{URL: iss, Audience: aud})
	}
	return ac
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, errors.New("want host:port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("port must be 0-65535")
	}
	return addr[:i], port, nil
}

// parseDB splits --db into backend and connection string.
func parseDB(db string) (backend, dsn string, err error) {
	switch {
	case strings.HasPrefix(db, "sqlite:"):
		path := strings.TrimPrefix(db, "sqlite:")
		if path == "" {
			return "", "", errors.New("--db sqlite: needs a path, e.g. sqlite:./data/yiyang.db")
		}
		return "sqlite", path, nil
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return "postgres", db, nil
	}
	return "", "", fmt.Errorf("--db %q: must be sqlite:PATH or postgres://...", db)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}

func (c *Config) logger() *slog.Logger {
	lvl, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(server.LogHandler(h))
}

// openStore opens the configured backend and applies migrations.
func (c *Config) openStore(ctx context.Context, log *slog.Logger) (resources.Store, error) {
	backend, dsn, err := parseDB(c.DB)
	if err != nil {
		return nil, err
	}
	if backend == "sqlite" {
		return sqlite.Open(ctx, sqlite.Config{Path: dsn, Synchronous: c.SQLiteSync, Logger: log})
	}
	return postgres.Open(ctx, postgres.Config{DSN: dsn, MaxConns: int32(c.DBMaxConns), Logger: log})
}
