package main

import (
	"strings"
	"testing"
)

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // "" for valid
	}{
		{[]string{"--auth-disabled"}, nil, ""},
		{nil, nil, "authentication is not configured"},
		{[]string{"--auth-issuer", "https://idp.example/realms/y", "--auth-audience", "yiyang"}, nil, ""},
		{[]string{"--auth-issuer", "https://a,https://b", "--auth-audience", "x,y,z"}, nil, "one per issuer"},
		{[]string{"--auth-disabled", "--auth-issuer", "https://a", "--auth-audience", "x"}, nil, "contradict"},
		{[]string{"--auth-disabled", "--addr", "nonsense"}, nil, "--addr"},
		{[]string{"--auth-disabled", "--db", "mysql://x"}, nil, "--db"},
		{[]string{"--auth-disabled", "--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--auth-disabled", "--sqlite-synchronous", "OFF"}, nil, "--sqlite-synchronous"},
		{[]string{"--auth-disabled", "--base-url", "ftp://x"}, nil, "--base-url"},
		{nil, map[string]string{"YIYANG_AUTH_DISABLED": "true", "YIYANG_ADDR": "127.0.0.1:0"}, ""},
		{nil, map[string]string{"YIYANG_AUTH_DISABLED": "maybe"}, "YIYANG_AUTH_DISABLED"},
		{[]string{"--auth-disabled"}, map[string]string{"YIYANG_MAX_BODY_BYTES": "12"}, "--max-body-bytes"},
		{[]string{"--auth-disabled", "--cors-origins", "https://app.example.cn,http://localhost:3000"}, nil, ""},
		{[]string{"--auth-disabled", "--cors-origins", "*"}, nil, "--cors-origins"},
		{[]string{"--auth-disabled", "--cors-origins", "https://app.example.cn/"}, nil, "--cors-origins"},
		{[]string{"--auth-disabled"}, map[string]string{"YIYANG_CORS_ORIGINS": "https://app.example.cn/fhir"}, "--cors-origins"},
		{[]string{"--auth-disabled", "--rate-limit", "50", "--rate-burst", "100"}, nil, ""},
		{[]string{"--auth-disabled", "--rate-limit", "0.5"}, nil, ""},
		{[]string{"--auth-disabled", "--rate-limit", "-1"}, nil, "--rate-limit"},
		{[]string{"--auth-disabled", "--rate-limit", "NaN"}, nil, "--rate-limit"},
		{[]string{"--auth-disabled", "--rate-burst", "10"}, nil, "--rate-burst needs --rate-limit"},
		{[]string{"--auth-disabled", "--rate-limit", "10", "--rate-burst", "-3"}, nil, "--rate-burst"},
		{nil, map[string]string{"YIYANG_AUTH_DISABLED": "true", "YIYANG_RATE_LIMIT": "20", "YIYANG_RATE_BURST": "40"}, ""},
		{nil, map[string]string{"YIYANG_AUTH_DISABLED": "true", "YIYANG_RATE_LIMIT": "fast"}, "YIYANG_RATE_LIMIT"},
		{nil, map[string]string{"YIYANG_AUTH_DISABLED": "true", "YIYANG_RATE_BURST": "1.5"}, "YIYANG_RATE_BURST"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig("serve", tc.args)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid configuration refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error about %q, got %v", tc.want, err)
			}
		})
	}
}

func TestSecurityConfig(t *testing.T) {
	t.Setenv("YIYANG_AUTH_DISABLED", "true")
	t.Setenv("YIYANG_CORS_ORIGINS", "https://a.example.cn, https://b.example.cn")
	t.Setenv("YIYANG_RATE_LIMIT", "3")
	t.Setenv("YIYANG_RATE_BURST", "9")
	cfg, err := loadConfig("serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[1] != "https://b.example.cn" || cfg.RateLimit != 3 || cfg.RateBurst != 9 {
		t.Fatalf("from the environment: %+v %v %v", cfg.CORSOrigins, cfg.RateLimit, cfg.RateBurst)
	}
	cfg, err = loadConfig("serve", []string{"--cors-origins", "https://c.example.cn", "--cors-origins", "https://d.example.cn", "--rate-limit", "7.5"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.CORSOrigins, " ") != "https://c.example.cn https://d.example.cn" || cfg.RateLimit != 7.5 || cfg.RateBurst != 9 {
		t.Fatalf("flags over the environment: %+v %v %v", cfg.CORSOrigins, cfg.RateLimit, cfg.RateBurst)
	}
	if d := DefaultConfig(); d.RateLimit != 0 || len(d.CORSOrigins) != 0 {
		t.Fatalf("defaults: rate limit %v, CORS %v; both are off by default", d.RateLimit, d.CORSOrigins)
	}
}
