package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/runtimes/proxy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr bool
	}{
		{"defaults are native", nil, nil, options{listen: ":8080", kind: "native", workdir: "/action"}, false},
		{"env", nil, map[string]string{"OW_LISTEN": "127.0.0.1:9", "OW_LAUNCHER": "node /runtimes/nodejs/launcher.js", "OW_WORKDIR": "/w", "OW_PROXY_TOKEN": "tok"},
			options{listen: "127.0.0.1:9", launcher: "node /runtimes/nodejs/launcher.js", kind: "nodejs", workdir: "/w", token: "tok"}, false},
		{"token flag", []string{"-token", "t1"}, map[string]string{"OW_PROXY_TOKEN": "t2"}, options{listen: ":8080", kind: "native", workdir: "/action", token: "t1"}, false},
		{"flags beat env", []string{"-listen", ":1", "-launcher", "python3 /l/python/launcher.py"}, map[string]string{"OW_LISTEN": ":2"},
			options{listen: ":1", launcher: "python3 /l/python/launcher.py", kind: "python", workdir: "/action"}, false},
		{"native keyword", []string{"-launcher", "native"}, nil, options{listen: ":8080", kind: "native", workdir: "/action"}, false},
		{"explicit kind", []string{"-launcher", "/bin/mylauncher", "-kind", "python"}, nil, options{listen: ":8080", launcher: "/bin/mylauncher", kind: "python", workdir: "/action"}, false},
		{"uninferable kind", []string{"-launcher", "/bin/mylauncher"}, nil, options{}, true},
		{"stray argument", []string{"extra"}, nil, options{}, true},
		{"unknown flag", []string{"-nope"}, nil, options{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestRunServes starts the proxy for a native action on a loopback port
// with a token from the environment, initializes and runs it over HTTP
// (every answer carries the token, the action does not see it), and stops
// it with the context.
func TestRunServes(t *testing.T) {
	const token = "f00dcafe"
	t.Setenv(proxy.TokenEnv, token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out, errw bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-workdir", t.TempDir()}, os.Getenv, &out, &errw, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	check := func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if got := resp.Header.Get(proxy.TokenHeader); got != token {
			t.Errorf("%s %s: %s %q, want %q", resp.Request.Method, resp.Request.URL.Path, proxy.TokenHeader, got, token)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	post := func(path, body string) (int, string) {
		t.Helper()
		return check(http.Post("http://"+addr+path, "application/json", strings.NewReader(body)))
	}
	if st, b := check(http.Get("http://" + addr + proxy.ReadyPath)); st != 200 || b != `{"ok":true}` {
		t.Fatalf("ready: %d %s", st, b)
	}
	if st, b := post("/init", `{"value":{"code":"#!/bin/sh\necho \"{\\\"hi\\\":1,\\\"token\\\":\\\"$OW_PROXY_TOKEN\\\"}\"\n"}}`); st != 200 {
		t.Fatalf("init: %d %s", st, b)
	}
	if st, b := post("/run", `{"value":{}}`); st != 200 || b != `{"hi":1,"token":""}` {
		t.Fatalf("run: %d %s", st, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

// TestRunAddressInUse: a taken listen address ends the proxy with exit code
// 98, which the Docker sandbox reads as "port taken, try another".
func TestRunAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, []string{"-listen", ln.Addr().String(), "-workdir", t.TempDir()}, func(string) string { return "" }, io.Discard, io.Discard)
	if !errors.Is(err, syscall.EADDRINUSE) || exitCode(err) != proxy.ExitAddrInUse {
		t.Fatalf("run on a taken address: %v (exit code %d), want EADDRINUSE and %d", err, exitCode(err), proxy.ExitAddrInUse)
	}
	if c := exitCode(errors.Join(errUsage)); c != 2 {
		t.Errorf("usage error exit code %d", c)
	}
	if c := exitCode(errors.New("other")); c != 1 {
		t.Errorf("other error exit code %d", c)
	}
}

func TestWithoutVar(t *testing.T) {
	got := withoutVar([]string{"A=1", "OW_PROXY_TOKEN=x", "OW_PROXY_TOKENS=y", "B=2=3"}, "OW_PROXY_TOKEN")
	if strings.Join(got, " ") != "A=1 OW_PROXY_TOKENS=y B=2=3" {
		t.Errorf("withoutVar = %q", got)
	}
}
