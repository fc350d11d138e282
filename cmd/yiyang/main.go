// Command yiyang is the Yiyang FHIR R4 server: `yiyang serve` runs it,
// `yiyang migrate` applies the database schema, `yiyang bench` measures it
// and `yiyang version` prints the build.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/meizhou-yiyang/yiyang/operations"
	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/server"
	"github.com/meizhou-yiyang/yiyang/server/auth"
	"github.com/meizhou-yiyang/yiyang/server/policy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `yiyang: FHIR R4 clinical data server

Usage:
  yiyang serve   [flags]   run the server (default: SQLite under ./data, 127.0.0.1:8080)
  yiyang migrate [flags]   apply database migrations and exit
  yiyang bench   [flags]   measure create/read throughput against a bare baseline
  yiyang bench-search [flags]  load up to 1M Observations into PostgreSQL and time typical searches
  yiyang version           print the version

Run "yiyang serve -h" for the flags; each has a YIYANG_* environment variable.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(ctx, args)
	case "migrate":
		err = migrate(ctx, args)
	case "bench":
		err = bench(ctx, args)
	case "bench-search":
		err = benchSearch(ctx, args)
	case "version":
		fmt.Println("yiyang", buildVersion())
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "yiyang: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "yiyang:", err)
		}
		os.Exit(1)
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

func loadConfig(name string, args []string) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("yiyang "+name, flag.ContinueOnError)
	if err := cfg.bind(fs); err != nil {
		return cfg, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, cfg.validate()
}

func migrate(ctx context.Context, args []string) error {
	cfg, err := loadConfig("migrate", args)
	if err != nil {
		return err
	}
	log := cfg.logger()
	st, err := cfg.openStore(ctx, log) // opening applies pending migrations
	if err != nil {
		return err
	}
	log.Info("database is up to date", "backend", st.Backend())
	return st.Close()
}

// newServer wires a server around a store.
func newServer(ctx context.Context, cfg Config, st resources.Store, log *slog.Logger) (*server.Server, error) {
	parser, err := resources.NewParser()
	if err != nil {
		return nil, err
	}
	var verifier *auth.Verifier
	var authorizer server.Authorizer
	if !cfg.AuthDisabled {
		if verifier, err = auth.New(ctx, cfg.authConfig(log)); err != nil {
			return nil, err
		}
		pol, err := policy.New(ctx, cfg.PolicyDir)
		if err != nil {
			return nil, err
		}
		authorizer = pol
	}
	ops := operations.NewRegistry()
	for _, op := range []operations.Operation{operations.Validate, operations.Everything,
		operations.ValueSetExpand, operations.CodeSystemLookup, operations.CodeSystemSubsumes} {
		if err := ops.Register(op); err != nil {
			return nil, err
		}
	}
	return server.New(server.Config{
		Store: st, Parser: parser, Logger: log, Operations: ops, BaseURL: cfg.BaseURL,
		MaxBodyBytes: cfg.MaxBodyBytes, Version: buildVersion(), Auth: verifier, Authorizer: authorizer, AuthDisabled: cfg.AuthDisabled, Audit: cfg.auditConfig(),
		CORSOrigins: cfg.CORSOrigins, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst,
	})
}

func serve(ctx context.Context, args []string) error {
	cfg, err := loadConfig("serve", args)
	if err != nil {
		return err
	}
	log := cfg.logger()
	st, err := cfg.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := newServer(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if err := srv.LoadCustomParams(ctx); err != nil {
		return fmt.Errorf("loading custom SearchParameters: %w", err)
	}
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	scheme := "http"
	if tlsConf != nil {
		ln, scheme = tls.NewListener(ln, tlsConf), "https"
	}
	if cfg.AuthDisabled {
		log.Warn("AUTHENTICATION IS OFF (--auth-disabled): every client can read and change all data; do not expose this server beyond a trusted network")
	} else {
		log.Info("bearer-token authentication on", "issuers", cfg.AuthIssuers)
	}
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "mtls", cfg.TLSClientCA != "", "backend", st.Backend(), "version", buildVersion())
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.Close() // flush the audit trail
	if err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
