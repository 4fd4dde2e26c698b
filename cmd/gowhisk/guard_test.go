package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"ipv4 loopback", "127.0.0.1", true},
		{"other 127/8 address", "127.1.2.3", true},
		{"localhost", "localhost", true},
		{"localhost upper case", "LocalHost", true},
		{"ipv6 loopback", "::1", true},
		{"bracketed ipv6 loopback", "[::1]", true},
		{"ipv6 loopback with zone", "::1%lo", true},
		{"all ipv4 interfaces", "0.0.0.0", false},
		{"all ipv6 interfaces", "::", false},
		{"empty host listens everywhere", "", false},
		{"private address", "10.0.0.1", false},
		{"public address", "8.8.8.8", false},
		{"host name is not trusted", "myhost.example", false},
		{"localhost lookalike", "localhost.evil", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isLoopbackHost(tt.host); got != tt.want {
				t.Errorf("isLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

func TestParseAuth(t *testing.T) {
	key := strings.Repeat("aB3", 21) + "z"
	tests := []struct {
		name    string
		auth    string
		wantErr string
	}{
		{"valid", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + key, ""},
		{"upper-case uuid", "23BC46B1-71F6-4ED5-8C54-816AA4F8C502:" + key, ""},
		{"no colon", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502", "UUID:KEY"},
		{"uuid without dashes", "23bc46b171f64ed58c54816aa4f8c502:" + key, "not a valid UUID"},
		{"uuid with non-hex", "23bc46b1-71f6-4ed5-8c54-816aa4f8c50g:" + key, "not a valid UUID"},
		{"short key", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:abc", "64"},
		{"long key", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + key + "x", "64"},
		{"key with punctuation", "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + key[:63] + "!", "64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseAuth(tt.auth)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseAuth(%q) = %v, want ok", tt.auth, err)
				}
				return
			}
			var ue usageError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ue) {
				t.Fatalf("parseAuth(%q) = %v, want a usage error containing %q", tt.auth, err, tt.wantErr)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    int
		wantErr bool
	}{
		{"default", nil, nil, 3233, false},
		{"from environment", nil, map[string]string{"GOWHISK_PORT": "4000"}, 4000, false},
		{"flag wins over environment", []string{"--port", "5000"}, map[string]string{"GOWHISK_PORT": "4000"}, 5000, false},
		{"empty variable is unset", nil, map[string]string{"GOWHISK_PORT": ""}, 3233, false},
		{"bad value is a usage error", nil, map[string]string{"GOWHISK_PORT": "many"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var port int
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			cmd.Flags().IntVar(&port, "port", 3233, "port")
			bindEnv(cmd.Flags(), "port", "GOWHISK_PORT")
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			err := applyEnv(cmd, func(k string) string { return tt.env[k] })
			var ue usageError
			if tt.wantErr {
				if !errors.As(err, &ue) {
					t.Fatalf("applyEnv = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if port != tt.want {
				t.Errorf("port = %d, want %d", port, tt.want)
			}
		})
	}
}

func TestRefuseNonLoopbackNamesTheFix(t *testing.T) {
	err := refuseNonLoopback("0.0.0.0", "/data", []activeKey{{Subject: "guest", Namespace: "guest"}})
	for _, want := range []string{`"0.0.0.0"`, `subject "guest"`, "gowhisk admin --data-dir /data user rekey guest -n guest", "user delete guest", "--host 127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestRootUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no arguments shows help", nil, 0, "gowhisk standalone", ""},
		{"unknown command", []string{"frob"}, 2, "", `unknown command "frob"`},
		{"standalone takes no arguments", []string{"standalone", "extra"}, 2, "", "accepts 0 arg"},
		{"bad port", []string{"standalone", "--port", "70000"}, 2, "", "out of range"},
		{"admin help", []string{"admin"}, 0, "user", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gowhisk(t, nil, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("gowhisk %v = %d\nstdout %q\nstderr %q", tt.args, code, out, errOut)
			}
		})
	}
}
