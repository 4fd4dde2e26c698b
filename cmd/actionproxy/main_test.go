package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
		{"env", nil, map[string]string{"OW_LISTEN": "127.0.0.1:9", "OW_LAUNCHER": "node /runtimes/nodejs/launcher.js", "OW_WORKDIR": "/w"},
			options{listen: "127.0.0.1:9", launcher: "node /runtimes/nodejs/launcher.js", kind: "nodejs", workdir: "/w"}, false},
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

// TestRunServes starts the proxy for a native action on a loopback port,
// initializes and runs it over HTTP, and stops it with the context.
func TestRunServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out, errw bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-workdir", t.TempDir()}, func(string) string { return "" }, &out, &errw, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	post := func(path, body string) (int, string) {
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if st, b := post("/init", `{"value":{"code":"#!/bin/sh\necho '{\"hi\":1}'\n"}}`); st != 200 {
		t.Fatalf("init: %d %s", st, b)
	}
	if st, b := post("/run", `{"value":{}}`); st != 200 || b != `{"hi":1}` {
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
