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
