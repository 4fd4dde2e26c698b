package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exitTooMany is wsk's exit status for HTTP 429: 429 − 256.
const exitTooMany = 429 - 256

// throttleEnv builds wsk and gowhisk and starts a standalone server with
// the given throttle flags, configuring wsk for it.
func throttleEnv(t *testing.T, limits ...string) *env {
	t.Helper()
	tmp := t.TempDir()
	if err := os.Chmod(filepath.Dir(tmp), 0o711); err != nil {
		t.Fatal(err)
	}
	bins := filepath.Join(tmp, "bin")
	wsk := build(t, bins, "wsk", "github.com/gowhisk/gowhisk/cmd/wsk")
	gw := build(t, bins, "gowhisk", "github.com/gowhisk/gowhisk/cmd/gowhisk")
	args := append([]string{"--data-dir", filepath.Join(tmp, "data"), "--sandbox", "process",
		"--sandbox-dir", filepath.Join(tmp, "sandbox")}, limits...)
	srv := startServer(t, gw, args...)
	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{wsk: wsk, dir: work, srv: srv, conf: filepath.Join(tmp, "wskprops")}
	e.ok(t, "property", "set", "--apihost", srv.apihost, "--auth", srv.auth)
	return e
}

var tooManyLine = regexp.MustCompile(`^error: (Unable to [a-z]+ [a-z]+ '[a-z]+': .+) \(code [A-Za-z0-9]+\)$`)

// wantTooMany checks a wsk command that the server refused with 429.
func wantTooMany(t *testing.T, r result, want string) {
	t.Helper()
	line, _, _ := strings.Cut(r.stderr, "\n")
	m := tooManyLine.FindStringSubmatch(line)
	if r.code != exitTooMany || m == nil || m[1] != want {
		t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, exitTooMany, want)
	}
}

// inOneMinute runs f until it ran within a single calendar minute (the
// per-minute throttles count in calendar-minute buckets, so a run that
// crossed a minute boundary proves nothing). f reports false when its
// expectations failed; the run is then retried only if it crossed a
// boundary.
func inOneMinute(t *testing.T, f func(attempt int) bool) {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		start := time.Now().Unix() / 60
		ok := f(attempt)
		crossed := time.Now().Unix()/60 != start
		switch {
		case ok:
			return
		case !crossed:
			t.Fatal("throttle expectations failed within one minute")
		}
		t.Logf("attempt %d crossed a minute boundary; again", attempt)
	}
	t.Fatal("every attempt crossed a minute boundary")
}

// TestThrottlesPerMinute: with --invocations-per-minute 3 the 4th invoke
// in a minute is refused with 429 and OpenWhisk's message, and wsk exits
// with 429 − 256; likewise the 3rd fire with --fires-per-minute 2.
func TestThrottlesPerMinute(t *testing.T) {
	e := throttleEnv(t, "--invocations-per-minute", "3", "--fires-per-minute", "2")
	e.writeFile(t, "hello.js", `function main(p) { return {greeting: "hello " + p.name} }`)
	e.ok(t, "action", "create", "hello", "hello.js", "--kind", "nodejs:20")
	e.ok(t, "trigger", "create", "tick")

	inOneMinute(t, func(attempt int) bool {
		if attempt > 0 {
			// Start at the beginning of a fresh minute.
			time.Sleep(time.Until(time.Unix((time.Now().Unix()/60+1)*60, 0)))
		}
		for i := range 3 {
			if r := e.run(t, nil, "action", "invoke", "hello", "-p", "name", "x"); r.code != 0 {
				t.Logf("invoke %d: exit %d %s", i+1, r.code, r.stderr)
				return false
			}
		}
		r := e.run(t, nil, "action", "invoke", "hello", "--blocking", "--result")
		if r.code == 0 {
			return false
		}
		wantTooMany(t, r, "Unable to invoke action 'hello': Too many requests in the last minute (count: 4, allowed: 3).")

		for i := range 2 {
			if r := e.run(t, nil, "trigger", "fire", "tick"); r.code != 0 {
				t.Logf("fire %d: exit %d %s", i+1, r.code, r.stderr)
				return false
			}
		}
		r = e.run(t, nil, "trigger", "fire", "tick")
		if r.code == 0 {
			return false
		}
		wantTooMany(t, r, "Unable to fire trigger 'tick': Too many requests in the last minute (count: 3, allowed: 2).")
		return true
	})
}

// TestThrottleConcurrent: with --concurrent-invocations 1 an invoke while
// the namespace's activation runs is refused with 429, and accepted again
// once it completed.
func TestThrottleConcurrent(t *testing.T) {
	e := throttleEnv(t, "--concurrent-invocations", "1", "--invocations-per-minute", "1000")
	// Long enough that the next wsk command comes while it runs.
	e.writeFile(t, "slow.js", `function main() { return new Promise(r => setTimeout(() => r({done: true}), 6000)) }`)
	e.writeFile(t, "quick.js", `function main() { return {quick: true} }`)
	e.ok(t, "action", "create", "slow", "slow.js", "--kind", "nodejs:20")
	e.ok(t, "action", "create", "quick", "quick.js", "--kind", "nodejs:20")

	out := e.ok(t, "action", "invoke", "slow")
	m := regexp.MustCompile(`with id ([0-9a-f]{32})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("invoke printed %q", out)
	}
	wantTooMany(t, e.run(t, nil, "action", "invoke", "quick", "--blocking"),
		"Unable to invoke action 'quick': Too many concurrent requests in flight (count: 1, allowed: 1).")

	deadline := time.Now().Add(2 * time.Minute)
	for e.run(t, nil, "activation", "get", m[1]).code != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("activation %s never completed\nserver log:\n%s", m[1], e.srv.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The record is written before the balancer handles the completion:
	// the slot may be freed a moment later.
	for {
		r := e.run(t, nil, "action", "invoke", "quick", "--blocking", "--result")
		if r.code == 0 {
			if !strings.Contains(r.stdout, `"quick": true`) {
				t.Fatalf("invoke after the slow activation completed printed %q", r.stdout)
			}
			break
		}
		if r.code != exitTooMany || time.Now().After(deadline) {
			t.Fatalf("invoke after the slow activation completed: exit %d %s", r.code, r.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
