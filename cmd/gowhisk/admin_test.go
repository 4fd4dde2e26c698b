package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/test/gowhisktest"
)

// gowhisk runs the command tree in-process with environment vars and
// returns the exit status, stdout and stderr.
func gowhisk(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := env{
		Getenv:  func(k string) string { return vars[k] },
		Stdout:  &stdout,
		Stderr:  &stderr,
		HomeDir: func() (string, error) { return t.TempDir(), nil },
	}
	code := run(context.Background(), args, e)
	return code, stdout.String(), stderr.String()
}

var authRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:[A-Za-z0-9]{64}\n$`)

func TestAdminUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	admin := func(args ...string) (int, string, string) {
		t.Helper()
		return gowhisk(t, nil, append([]string{"admin", "--data-dir", dir}, args...)...)
	}
	mustAdmin := func(args ...string) string {
		t.Helper()
		code, out, errOut := admin(args...)
		if code != 0 {
			t.Fatalf("admin %v = %d, stderr %q", args, code, errOut)
		}
		return out
	}

	// Reading a data dir that has no database fails without creating one.
	if code, _, errOut := admin("user", "get", "alice"); code != 1 || !strings.Contains(errOut, "no gowhisk database") {
		t.Fatalf("get on an empty data dir = %d %q", code, errOut)
	}

	key := mustAdmin("user", "create", "alice")
	if !authRE.MatchString(key) {
		t.Fatalf("user create printed %q, want uuid:key", key)
	}
	if got := mustAdmin("user", "get", "alice"); got != key {
		t.Fatalf("user get = %q, want %q", got, key)
	}

	given := "11111111-2222-4333-8444-555555555555:" + strings.Repeat("k", 64)
	if got := mustAdmin("user", "create", "alice", "-n", "team1", "-u", given); got != given+"\n" {
		t.Fatalf("user create -u printed %q", got)
	}
	if got := mustAdmin("user", "get", "alice", "-n", "team1"); got != given+"\n" {
		t.Fatalf("user get -n team1 = %q", got)
	}
	wantAll := "alice\t" + strings.TrimSpace(key) + "\nteam1\t" + given + "\n"
	if got := mustAdmin("user", "get", "alice", "--all"); got != wantAll {
		t.Fatalf("user get --all = %q, want %q", got, wantAll)
	}
	if got := mustAdmin("user", "list", "team1"); got != given+"\talice\n" {
		t.Fatalf("user list team1 = %q", got)
	}

	failures := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"existing namespace", []string{"user", "create", "alice", "-n", "team1"}, 1, "already exists"},
		{"credentials in use", []string{"user", "create", "bobby", "-u", given}, 1, "already exist"},
		{"short subject", []string{"user", "create", "bob"}, 2, "at least 5"},
		{"invalid namespace", []string{"user", "create", "bobby", "-n", "no/slash"}, 2, "not a valid name"},
		{"malformed key", []string{"user", "create", "bobby", "-u", "x:y"}, 2, "not a valid UUID"},
		{"missing subject", []string{"user", "get", "nobody"}, 1, "not found"},
		{"missing namespace", []string{"user", "get", "alice", "-n", "team9"}, 1, "does not exist"},
		{"delete missing subject", []string{"user", "delete", "nobody"}, 1, "not found"},
		{"no argument", []string{"user", "create"}, 2, "accepts 1 arg"},
		{"unknown flag", []string{"user", "get", "alice", "--bogus"}, 2, "unknown flag"},
		{"unknown subcommand", []string{"user", "frob"}, 2, "unknown command"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			code, _, errOut := admin(f.args...)
			if code != f.wantCode || !strings.Contains(errOut, f.wantErr) {
				t.Fatalf("admin %v = %d %q, want %d and %q", f.args, code, errOut, f.wantCode, f.wantErr)
			}
		})
	}

	if got := mustAdmin("user", "block", "alice"); got != "\"alice\" blocked successfully\n" {
		t.Fatalf("block printed %q", got)
	}
	if got := mustAdmin("user", "list", "team1"); got != given+"\talice\tblocked\n" {
		t.Fatalf("user list of a blocked subject = %q", got)
	}
	if code, _, errOut := admin("user", "create", "alice", "-n", "team2"); code != 1 || !strings.Contains(errOut, "blocked") {
		t.Fatalf("create on a blocked subject = %d %q", code, errOut)
	}
	if code, out, _ := admin("user", "unblock", "alice", "nobody"); code != 1 || out != "\"alice\" unblocked successfully\n" {
		t.Fatalf("unblock alice nobody = %d %q, want alice unblocked and a failure for nobody", code, out)
	}

	rekeyed := mustAdmin("user", "rekey", "alice", "-n", "team1")
	if !authRE.MatchString(rekeyed) || rekeyed == given+"\n" {
		t.Fatalf("rekey printed %q", rekeyed)
	}
	if got := mustAdmin("user", "get", "alice", "-n", "team1"); got != rekeyed {
		t.Fatalf("get after rekey = %q, want %q", got, rekeyed)
	}

	if got := mustAdmin("user", "delete", "alice", "-n", "team1"); got != "Namespace deleted\n" {
		t.Fatalf("delete -n printed %q", got)
	}
	if got := mustAdmin("user", "list", "team1"); got != "" {
		t.Fatalf("list after namespace delete = %q", got)
	}
	if got := mustAdmin("user", "delete", "alice"); got != "Subject deleted\n" {
		t.Fatalf("delete printed %q", got)
	}
	if code, _, _ := admin("user", "get", "alice"); code != 1 {
		t.Fatalf("get after delete = %d, want 1", code)
	}
}

func TestAdminLimits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	// The data dir comes from the environment here.
	vars := map[string]string{"GOWHISK_DATA_DIR": dir}
	admin := func(args ...string) (int, string, string) {
		t.Helper()
		return gowhisk(t, vars, append([]string{"admin"}, args...)...)
	}
	mustAdmin := func(args ...string) string {
		t.Helper()
		code, out, errOut := admin(args...)
		if code != 0 {
			t.Fatalf("admin %v = %d, stderr %q", args, code, errOut)
		}
		return out
	}

	if got := mustAdmin("limits", "set", "team1", "--invocationsPerMinute", "0", "--concurrentInvocations", "5",
		"--allowedKinds", "nodejs:20,python:3", "--storeActivations", "false", "--maxActionMemory", "1024"); got != "Limits successfully set for \"team1\"\n" {
		t.Fatalf("limits set printed %q", got)
	}
	mustAdmin("limits", "set", "team1", "--firesPerMinute", "9", "--warmedContainerKeepingTimeout", "60 minutes")
	want := strings.Join([]string{
		"invocationsPerMinute = 0",
		"firesPerMinute = 9",
		"concurrentInvocations = 5",
		`allowedKinds = ["nodejs:20","python:3"]`,
		"storeActivations = false",
		"maxActionMemory = 1024",
		`warmedContainerKeepingTimeout = "60 minutes"`,
	}, "\n") + "\n"
	if got := mustAdmin("limits", "get", "team1"); got != want {
		t.Fatalf("limits get =\n%s\nwant\n%s", got, want)
	}
	// An empty kind list allows every kind again.
	mustAdmin("limits", "set", "team1", "--allowedKinds", "")
	if got := mustAdmin("limits", "get", "team1"); strings.Contains(got, "allowedKinds") {
		t.Fatalf("allowedKinds still set after clearing: %q", got)
	}

	failures := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no limit given", []string{"limits", "set", "team1"}, 2, "at least one limit"},
		{"negative", []string{"limits", "set", "team1", "--firesPerMinute", "-1"}, 2, "negative"},
		{"not a number", []string{"limits", "set", "team1", "--firesPerMinute", "lots"}, 2, "invalid argument"},
		{"bad bool", []string{"limits", "set", "team1", "--storeActivations", "maybe"}, 2, "true or false"},
		{"delete missing", []string{"limits", "delete", "team2"}, 1, "no limits set"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			code, _, errOut := admin(f.args...)
			if code != f.wantCode || !strings.Contains(errOut, f.wantErr) {
				t.Fatalf("admin %v = %d %q, want %d and %q", f.args, code, errOut, f.wantCode, f.wantErr)
			}
		})
	}

	if got := mustAdmin("limits", "delete", "team1"); got != "Limits deleted\n" {
		t.Fatalf("limits delete printed %q", got)
	}
	if got := mustAdmin("limits", "get", "team1"); got != "No limits found, default system limits apply\n" {
		t.Fatalf("limits get after delete = %q", got)
	}
}

func TestFormatLimits(t *testing.T) {
	n, b := 3, true
	tests := []struct {
		name string
		in   entity.UserLimits
		want []string
	}{
		{"none", entity.UserLimits{}, nil},
		{"one int", entity.UserLimits{FiresPerMinute: &n}, []string{"firesPerMinute = 3"}},
		{"ordered", entity.UserLimits{StoreActivations: &b, InvocationsPerMinute: &n, AllowedKinds: []string{"a"}},
			[]string{"invocationsPerMinute = 3", `allowedKinds = ["a"]`, "storeActivations = true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := formatLimits(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("formatLimits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStandaloneRefusesNonLoopbackWithGuestKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	vars := map[string]string{"GOWHISK_HOST": "0.0.0.0", "GOWHISK_PORT": "0"}
	code, out, errOut := gowhisk(t, vars, "standalone", "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "refusing to listen") || out != "" {
		t.Fatalf("standalone on 0.0.0.0 = %d stdout %q stderr %q, want a refusal", code, out, errOut)
	}
	// The first start created both well-known subjects.
	for _, s := range []string{entity.GuestSubject, entity.SystemSubject} {
		if code, _, errOut := gowhisk(t, nil, "admin", "--data-dir", dir, "user", "get", s); code != 0 {
			t.Fatalf("user get %s after first start = %d %q", s, code, errOut)
		}
	}
	if got := func() string {
		_, out, _ := gowhisk(t, nil, "admin", "--data-dir", dir, "user", "get", "guest")
		return out
	}(); got != entity.GuestAuthToken+"\n" {
		t.Fatalf("guest key = %q, want the well-known key", got)
	}

	// With both well-known subjects deleted, a restart does not re-create
	// them (the data dir is not new) and prints no guest key.
	for _, s := range []string{entity.GuestSubject, entity.SystemSubject} {
		if code, _, errOut := gowhisk(t, nil, "admin", "--data-dir", dir, "user", "delete", s); code != 0 {
			t.Fatalf("delete %s = %d %q", s, code, errOut)
		}
	}
	line := runUntilFirstLine(t, "standalone", "--data-dir", dir, "--port", "0")
	if !strings.HasPrefix(line, "gowhisk listening on http://127.0.0.1:") {
		t.Fatalf("first line = %q, want the listening line without a guest key", line)
	}
	if code, _, _ := gowhisk(t, nil, "admin", "--data-dir", dir, "user", "get", "guest"); code != 1 {
		t.Fatalf("guest exists again after a restart")
	}

	code, _, errOut = gowhisk(t, map[string]string{"GOWHISK_LOG_LEVEL": "loud"}, "standalone", "--data-dir", dir)
	if code != 2 || !strings.Contains(errOut, "--log-level") {
		t.Fatalf("bad log level = %d %q, want a usage error", code, errOut)
	}
}

// runUntilFirstLine runs gowhisk in-process until it prints its first
// stdout line, then cancels its context (as SIGINT would) and expects a
// clean exit.
func runUntilFirstLine(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, w := io.Pipe()
	var stderr gowhisktest.SyncBuffer
	e := env{Getenv: func(string) string { return "" }, Stdout: w, Stderr: &stderr, HomeDir: os.UserHomeDir}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, e)
		w.Close()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("no line printed: %v\nstderr: %s", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("gowhisk %v exited %d after cancel\nstderr: %s", args, code, stderr.String())
	}
	return strings.TrimSpace(line)
}
