//go:build integration

// Package distributed_test is the multi-process end-to-end test of the
// distributed deployment (issue 5): an in-process Kafka-protocol broker
// (kfake), the CouchDB API (pouchdb-server), two `gowhisk controller` and
// two `gowhisk invoker` processes (process sandbox) built from cmd/gowhisk,
// driven over REST and with the wsk CLI, then crashed and restarted.
package distributed_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/test/integration/pouchdb"
)

const guestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

var (
	controllerReady = regexp.MustCompile(`^gowhisk controller \S+ listening on (http://127\.0\.0\.1:[0-9]+)$`)
	invokerReady    = regexp.MustCompile(`^gowhisk invoker ([0-9]+) consuming topic invoker[0-9]+$`)
)

// cluster is the deployment under test.
type cluster struct {
	t            *testing.T
	bin, wsk     string
	kafka        *kafkaBroker
	couch        *pouchdb.Server
	dbPrefix     string
	sandboxRoot  string
	cgroupParent string
	controllers  [2]*proc
	urls         [2]string
	invokers     [2]*proc
}

func (c *cluster) couchFlags() []string {
	return []string{"--kafka-brokers", c.kafka.addr(), "--couchdb-url", c.couch.URL,
		"--couchdb-user", c.couch.Username, "--couchdb-password", c.couch.Password, "--db-prefix", c.dbPrefix}
}

// startController starts controller i (on its previous port after a
// restart). Forced completion is max(timeout, 1 s) + 3 s, so that a lost
// activation's record comes within the test's time.
func (c *cluster) startController(i int) {
	c.t.Helper()
	port := "0"
	if c.urls[i] != "" {
		port = c.urls[i][strings.LastIndexByte(c.urls[i], ':')+1:]
	}
	args := append([]string{"controller", "--controller-id", strconv.Itoa(i), "--cluster-size", "2", "--port", port,
		"--timeout-floor", "1s", "--timeout-factor", "1", "--timeout-addon", "3s"}, c.couchFlags()...)
	p, url := startProc(c.t, fmt.Sprintf("controller%d", i), c.bin, controllerReady, args...)
	c.controllers[i], c.urls[i] = p, url
}

func (c *cluster) startInvoker(i int) {
	c.t.Helper()
	args := append([]string{"invoker", "--invoker-id", strconv.Itoa(i), "--sandbox", "process",
		"--sandbox-dir", c.sandboxRoot, "--cgroup-parent", c.cgroupParent, "--user-memory", "1024",
		"--api-host", c.urls[0], "--shutdown-timeout", "10s"}, c.couchFlags()...)
	c.invokers[i], _ = startProc(c.t, fmt.Sprintf("invoker%d", i), c.bin, invokerReady, args...)
}

func (c *cluster) client(i int) *client {
	return &client{t: c.t, base: c.urls[i], auth: guestAuth, hc: &http.Client{Timeout: requestWait}}
}

// invokerStates is GET /invokers of controller i.
func (c *cluster) invokerStates(i int) (map[string]string, error) {
	r, err := (&client{t: c.t, base: c.urls[i], hc: &http.Client{Timeout: 10 * time.Second}}).try("GET", "/invokers", nil)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if r.Status != 200 || json.Unmarshal(r.Body, &m) != nil {
		return nil, fmt.Errorf("GET /invokers = %d %s", r.Status, r.Body)
	}
	return m, nil
}

// waitInvokers waits until every given controller shows exactly want.
func (c *cluster) waitInvokers(want map[string]string, bound time.Duration, controllers ...int) time.Duration {
	c.t.Helper()
	return eventually(c.t, bound, fmt.Sprintf("GET /invokers = %v on controllers %v", want, controllers), func() (bool, string) {
		var seen []string
		for _, i := range controllers {
			got, err := c.invokerStates(i)
			if err != nil {
				return false, err.Error()
			}
			seen = append(seen, fmt.Sprintf("controller%d: %v", i, got))
			if len(got) != len(want) {
				return false, strings.Join(seen, "; ")
			}
			for k, v := range want {
				if got[k] != v {
					return false, strings.Join(seen, "; ")
				}
			}
		}
		return true, ""
	})
}

// wskRun runs the wsk CLI against controller i.
func (c *cluster) wskRun(i int, args ...string) string {
	c.t.Helper()
	conf := filepath.Join(c.t.TempDir(), "wskprops")
	cmd := exec.Command(c.wsk, append(args, "--apihost", c.urls[i], "--auth", guestAuth)...)
	cmd.Env = append(cleanEnv(), "WSK_CONFIG_FILE="+conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("wsk %v against controller %d: %v\n%s", args, i, err, out)
	}
	return string(out)
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	bins := t.TempDir()
	c := &cluster{t: t, bin: buildBinary(t, bins, "github.com/gowhisk/gowhisk/cmd/gowhisk"), dbPrefix: "dist_",
		cgroupParent: fmt.Sprintf("gowhisk-dist-%d", os.Getpid())}
	c.wsk = buildBinary(t, bins, "github.com/gowhisk/gowhisk/cmd/wsk")
	// The sandbox root must be traversable by the unprivileged user the
	// actions run as (t.TempDir is private).
	root, err := os.MkdirTemp("", "gowhisk-dist-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	c.sandboxRoot = root
	c.couch = pouchdb.Start(t)
	c.kafka = startKafka(t)

	// The guest subject with OpenWhisk's well-known key, as an operator
	// would create it.
	out, err := exec.Command(c.bin, "admin", "--couchdb-url", c.couch.URL, "--couchdb-user", c.couch.Username,
		"--couchdb-password", c.couch.Password, "--db-prefix", c.dbPrefix, "user", "create", "guest", "-u", guestAuth).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != guestAuth {
		t.Fatalf("gowhisk admin user create guest: %v\n%s", err, out)
	}
	c.startController(0)
	c.startController(1)
	c.startInvoker(0)
	c.startInvoker(1)
	return c
}

var allUp = map[string]string{"invoker0": "up", "invoker1": "up"}

func TestDistributed(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	testStart := time.Now()
	c := newCluster(t)
	d := c.waitInvokers(allUp, 60*time.Second, 0, 1)
	t.Logf("both invokers up on both controllers %v after the processes started (%v since the test began)", d.Round(time.Millisecond), time.Since(testStart).Round(time.Second))
	c0, c1 := c.client(0), c.client(1)

	for _, path := range []string{"/invokers/healthy/count", "/invokers/ready"} {
		for i := range 2 {
			r := c.client(i).do("GET", path, nil)
			if r.Status != 200 || !(strings.TrimSpace(string(r.Body)) == "2" || strings.Contains(string(r.Body), `"healthy":"2/2"`)) {
				t.Fatalf("GET %s on controller %d = %d %s", path, i, r.Status, r.Body)
			}
		}
	}

	t.Run("REST across controllers", func(t *testing.T) { restFlows(t, c, c0, c1) })
	t.Run("wsk against both controllers", func(t *testing.T) {
		for i := range 2 {
			if out := c.wskRun(i, "action", "invoke", "hello", "--result", "--param", "name", "wsk"+strconv.Itoa(i)); !strings.Contains(out, `"greeting": "hello wsk`+strconv.Itoa(i)) {
				t.Fatalf("wsk action invoke against controller %d printed:\n%s", i, out)
			}
			if out := c.wskRun(i, "action", "list"); !strings.Contains(out, "/guest/hello") {
				t.Fatalf("wsk action list against controller %d printed:\n%s", i, out)
			}
		}
	})
	if t.Failed() {
		return
	}
	t.Run("invoker killed mid-flight", func(t *testing.T) { invokerCrash(t, c, c0, c1) })
	if t.Failed() {
		return
	}
	t.Run("controller restarted with activations on Kafka", func(t *testing.T) { controllerRestart(t, c, c0, c1) })
	if t.Failed() {
		return
	}
	t.Run("Kafka unreachable, then back", func(t *testing.T) { kafkaOutage(t, c, c0, c1) })
	t.Run("invoker stopped gracefully", func(t *testing.T) {
		c.invokers[1].stop(t)
		stopped := time.Now()
		if code := c.invokers[1].cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("invoker1 exited with status %d on SIGTERM", code)
		}
		if _, err := os.Stat(filepath.Join(c.sandboxRoot, "invoker1")); !os.IsNotExist(err) {
			t.Fatalf("invoker1's sandbox directory is still there after a graceful stop (err %v)", err)
		}
		// Its last ping said it is disabled.
		c.waitInvokers(map[string]string{"invoker0": "up", "invoker1": "down"}, 30*time.Second, 0, 1)
		t.Logf("invoker1 down on both controllers %v after it exited", time.Since(stopped).Round(100*time.Millisecond))
		if st, res := invokeBlocking(t, c1, "hello", map[string]any{"name": "last"}); st != 200 || res["greeting"] != "hello last" {
			t.Fatalf("invoke with invoker1 stopped = %d %v", st, res)
		}
	})
	t.Run("CouchDB unreachable", func(t *testing.T) {
		if err := c.couch.Stop(); err != nil {
			t.Fatal(err)
		}
		for i, cl := range []*client{c0, c1} {
			r := cl.do("GET", "/api/v1/namespaces/_/actions", nil)
			msg, _ := r.obj(t)["error"].(string)
			if r.Status != 503 || !strings.Contains(strings.ToLower(msg), "couchdb") {
				t.Fatalf("list actions on controller %d with CouchDB down = %d %s; want 503 naming CouchDB", i, r.Status, r.Body)
			}
			t.Logf("controller %d with CouchDB down: %d %s", i, r.Status, msg)
		}
		// Credentials that are not cached cannot be checked: 503, not 401.
		stranger := &client{t: t, base: c.urls[1], auth: "11111111-2222-4333-8444-555555555555:" + strings.Repeat("k", 64), hc: c1.hc}
		if r := stranger.do("GET", "/api/v1/namespaces/_/actions", nil); r.Status != 503 {
			t.Fatalf("authentication with CouchDB down = %d %s; want 503", r.Status, r.Body)
		}
	})
	t.Logf("the whole test took %v", time.Since(testStart).Round(time.Second))
}

// putAction creates or replaces guest's action name through cl.
func putAction(t *testing.T, cl *client, name, code string, limits map[string]any) {
	t.Helper()
	body := map[string]any{"exec": map[string]any{"kind": "nodejs:20", "code": code}}
	if limits != nil {
		body["limits"] = limits
	}
	if r := cl.do("PUT", "/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body); r.Status != 200 {
		t.Fatalf("PUT action %s = %d %s", name, r.Status, r.Body)
	}
}

// invokeBlocking invokes name with args and returns the result.
func invokeBlocking(t *testing.T, cl *client, name string, args map[string]any) (int, map[string]any) {
	t.Helper()
	r := cl.do("POST", "/api/v1/namespaces/_/actions/"+name+"?blocking=true&result=true", args)
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	if r.Status != 200 {
		t.Logf("invoke %s = %d %s", name, r.Status, r.Body)
	}
	return r.Status, m
}

// invokeAsync invokes name non-blocking and returns the activation id.
func invokeAsync(t *testing.T, cl *client, name string, args map[string]any) string {
	t.Helper()
	r := cl.do("POST", "/api/v1/namespaces/_/actions/"+name, args)
	id, _ := r.obj(t)["activationId"].(string)
	if r.Status != 202 || len(id) != 32 {
		t.Fatalf("non-blocking invoke of %s = %d %s", name, r.Status, r.Body)
	}
	return id
}

// waitRecord polls GET /activations/id until the record is stored.
func waitRecord(t *testing.T, cl *client, id string, bound time.Duration) map[string]any {
	t.Helper()
	var rec map[string]any
	eventually(t, bound, "the record of activation "+id, func() (bool, string) {
		r, err := cl.try("GET", "/api/v1/namespaces/_/activations/"+id, nil)
		if err != nil {
			return false, err.Error()
		}
		if r.Status != 200 {
			return false, fmt.Sprintf("%d %s", r.Status, r.Body)
		}
		rec = r.obj(t)
		return true, ""
	})
	return rec
}

func response(rec map[string]any) (status string, result map[string]any) {
	resp, _ := rec["response"].(map[string]any)
	status, _ = resp["status"].(string)
	result, _ = resp["result"].(map[string]any)
	return status, result
}

func restFlows(t *testing.T, c *cluster, c0, c1 *client) {
	putAction(t, c0, "hello", `function main(p) { return {greeting: "hello " + p.name, v: 1} }`, nil)
	// Created through controller 0, invoked through controller 1 (which
	// then caches it).
	st, res := invokeBlocking(t, c1, "hello", map[string]any{"name": "one"})
	if st != 200 || res["greeting"] != "hello one" {
		t.Fatalf("blocking invoke through controller 1 = %d %v", st, res)
	}
	// An update through controller 0 reaches controller 1's cache through
	// the cacheInvalidation topic (its entries otherwise live 5 minutes).
	putAction(t, c0, "hello", `function main(p) { return {greeting: "hello " + p.name, v: 2} }`, nil)
	d := eventually(t, 10*time.Second, "controller 1 runs the updated action", func() (bool, string) {
		st, res := invokeBlocking(t, c1, "hello", map[string]any{"name": "two"})
		return st == 200 && res["v"] == 2.0, fmt.Sprintf("%d %v", st, res)
	})
	t.Logf("controller 1 ran the update made through controller 0 after %v", d.Round(time.Millisecond))

	// Non-blocking through controller 0, record read through controller 1.
	id := invokeAsync(t, c0, "hello", map[string]any{"name": "async"})
	rec := waitRecord(t, c1, id, 20*time.Second)
	if st, res := response(rec); st != "success" || res["greeting"] != "hello async" {
		t.Fatalf("non-blocking activation's record = %v", rec)
	}

	// trigger → rule → action, across the controllers.
	if r := c1.do("PUT", "/api/v1/namespaces/_/triggers/tick", map[string]any{}); r.Status != 200 {
		t.Fatalf("PUT trigger = %d %s", r.Status, r.Body)
	}
	if r := c1.do("PUT", "/api/v1/namespaces/_/rules/tock", map[string]any{"trigger": "/_/tick", "action": "/_/hello"}); r.Status != 200 {
		t.Fatalf("PUT rule = %d %s", r.Status, r.Body)
	}
	r := c0.do("POST", "/api/v1/namespaces/_/triggers/tick", map[string]any{"name": "rule"})
	tid, _ := r.obj(t)["activationId"].(string)
	if r.Status != 202 || tid == "" {
		t.Fatalf("fire trigger = %d %s", r.Status, r.Body)
	}
	trec := waitRecord(t, c1, tid, 20*time.Second)
	logs, _ := trec["logs"].([]any)
	if len(logs) != 1 {
		t.Fatalf("trigger activation logs = %v", trec["logs"])
	}
	var line struct {
		Success      bool   `json:"success"`
		ActivationID string `json:"activationId"`
	}
	if s, _ := logs[0].(string); json.Unmarshal([]byte(s), &line) != nil || !line.Success {
		t.Fatalf("trigger activation log line = %v", logs[0])
	}
	arec := waitRecord(t, c1, line.ActivationID, 20*time.Second)
	if st, res := response(arec); st != "success" || res["greeting"] != "hello rule" {
		t.Fatalf("rule-fired activation's record = %v", arec)
	}
}

// sleeperCode writes a marker file into its sandbox's home directory (so
// that the test finds the invoker running it), then sleeps.
const sleeperCode = `const fs = require('fs');
function main(p) {
  fs.writeFileSync(process.env.HOME + '/marker-' + p.tag, 'x');
  return new Promise(r => setTimeout(() => r({slept: p.ms}), p.ms));
}`

func invokerCrash(t *testing.T, c *cluster, c0, c1 *client) {
	putAction(t, c0, "sleeper", sleeperCode, map[string]any{"timeout": 12000})
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	id := invokeAsync(t, c0, "sleeper", map[string]any{"tag": tag, "ms": 10000})
	invoked := time.Now()
	var marker string
	eventually(t, 30*time.Second, "the sleeper starts on an invoker", func() (bool, string) {
		m, _ := filepath.Glob(filepath.Join(c.sandboxRoot, "invoker*", "sandboxes", "*", "marker-"+tag))
		if len(m) == 1 {
			marker = m[0]
			return true, ""
		}
		return false, fmt.Sprint(m)
	})
	rel, _ := filepath.Rel(c.sandboxRoot, marker)
	victim, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(rel, string(filepath.Separator))[0], "invoker"))
	survivor := 1 - victim
	leftover := filepath.Dir(marker)
	t.Logf("activation %s runs on invoker%d (%s); killing it with SIGKILL", id, victim, leftover)

	c.invokers[victim].kill()
	killed := time.Now()
	want := map[string]string{"invoker0": "up", "invoker1": "up"}
	want[fmt.Sprintf("invoker%d", victim)] = "down"
	d := c.waitInvokers(want, 30*time.Second, 0, 1)
	t.Logf("invoker%d down on both controllers %v after the kill (healthy timeout 10 s)", victim, d.Round(100*time.Millisecond))
	if _, err := os.Stat(leftover); err != nil {
		t.Fatalf("the crashed invoker's sandbox %s should still be there: %v", leftover, err)
	}

	// New work goes to the survivor.
	for i, cl := range []*client{c0, c1, c0, c1} {
		if st, res := invokeBlocking(t, cl, "hello", map[string]any{"name": "survivor"}); st != 200 || res["greeting"] != "hello survivor" {
			t.Fatalf("invoke #%d with invoker%d down = %d %v", i, victim, st, res)
		}
	}
	id2 := invokeAsync(t, c1, "sleeper", map[string]any{"tag": tag + "b", "ms": 10})
	if st, _ := response(waitRecord(t, c0, id2, 30*time.Second)); st != "success" {
		t.Fatalf("sleeper on the surviving invoker did not succeed")
	}
	if m, _ := filepath.Glob(filepath.Join(c.sandboxRoot, fmt.Sprintf("invoker%d", survivor), "sandboxes", "*", "marker-"+tag+"b")); len(m) != 1 {
		t.Fatalf("the second sleeper did not run on invoker%d: %v", survivor, m)
	}

	// The restarted invoker removes its predecessor's leftovers and
	// rejoins.
	c.startInvoker(victim)
	d = c.waitInvokers(allUp, 60*time.Second, 0, 1)
	t.Logf("restarted invoker%d up on both controllers %v after it started", victim, d.Round(100*time.Millisecond))
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("the crashed invoker's sandbox %s is still there after the restart (err %v)", leftover, err)
	}

	// The activation lost with the invoker ends with a whisk internal
	// error record after the forced-completion timeout (12 s + 3 s here).
	rec := waitRecord(t, c1, id, 60*time.Second)
	st, res := response(rec)
	if st != "whisk internal error" || !strings.Contains(fmt.Sprint(res["error"]), "forced-completion") {
		t.Fatalf("lost activation's record = %v", rec)
	}
	t.Logf("lost activation's record (%v after the invoke, %v after the kill): %s: %v", time.Since(invoked).Round(time.Second),
		time.Since(killed).Round(time.Second), st, res["error"])
}

func controllerRestart(t *testing.T, c *cluster, c0, c1 *client) {
	putAction(t, c0, "nap", `function main(p) { return new Promise(r => setTimeout(() => r({n: p.n}), 1500)) }`, map[string]any{"memory": 128})
	const n = 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = invokeAsync(t, c0, "nap", map[string]any{"n": i})
	}
	// Controller 0 crashes with its activations queued or running on the
	// invokers; they complete, and their records are stored.
	c.controllers[0].kill()
	t.Logf("controller0 killed with %d non-blocking activations just published", n)
	for i, id := range ids {
		rec := waitRecord(t, c1, id, 60*time.Second)
		if st, res := response(rec); st != "success" || res["n"] != float64(i) {
			t.Fatalf("activation %d (%s) record = %v", i, id, rec)
		}
	}
	c.startController(0)
	c0.base = c.urls[0]
	d := c.waitInvokers(allUp, 60*time.Second, 0)
	t.Logf("restarted controller0 sees both invokers up after %v", d.Round(100*time.Millisecond))
	if st, res := invokeBlocking(t, c0, "hello", map[string]any{"name": "again"}); st != 200 || res["greeting"] != "hello again" {
		t.Fatalf("invoke through the restarted controller = %d %v", st, res)
	}
}

func kafkaOutage(t *testing.T, c *cluster, c0, c1 *client) {
	c.kafka.stop()
	stopped := time.Now()
	for i, cl := range []*client{c0, c1} {
		r := cl.do("POST", "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", map[string]any{"name": "nokafka"})
		msg, _ := r.obj(t)["error"].(string)
		if r.Status != 503 || msg == "" {
			t.Fatalf("invoke on controller %d with Kafka down = %d %s; want 503", i, r.Status, r.Body)
		}
		t.Logf("controller %d with Kafka down: %d %q", i, r.Status, msg)
	}
	// Entities stay readable and writable (CouchDB is up).
	putAction(t, c0, "offline", `function main() { return {ok: true} }`, nil)
	if r := c1.do("GET", "/api/v1/namespaces/_/actions/offline", nil); r.Status != 200 {
		t.Fatalf("GET action with Kafka down = %d %s", r.Status, r.Body)
	}

	// Without pings the controllers mark the invokers down after the
	// healthy timeout: invokes then fail at once.
	c.waitInvokers(map[string]string{"invoker0": "down", "invoker1": "down"}, 30*time.Second, 0, 1)
	t.Logf("both invokers down on both controllers %v after Kafka stopped", time.Since(stopped).Round(100*time.Millisecond))
	if r := c0.do("POST", "/api/v1/namespaces/_/actions/hello?blocking=true", map[string]any{}); r.Status != 503 {
		t.Fatalf("invoke with every invoker down = %d %s; want 503", r.Status, r.Body)
	}

	c.kafka.start(t)
	t.Logf("Kafka restarted on port %d after %v down", c.kafka.port, time.Since(stopped).Round(time.Second))
	for i, cl := range []*client{c0, c1} {
		d := eventually(t, 90*time.Second, fmt.Sprintf("invokes succeed again through controller %d", i), func() (bool, string) {
			r, err := cl.try("POST", "/api/v1/namespaces/_/actions/hello?blocking=true&result=true", map[string]any{"name": "back"})
			if err != nil {
				return false, err.Error()
			}
			return r.Status == 200 && strings.Contains(string(r.Body), "hello back"), fmt.Sprintf("%d %s", r.Status, r.Body)
		})
		t.Logf("controller %d invokes again %v after Kafka returned", i, d.Round(100*time.Millisecond))
	}
	c.waitInvokers(allUp, 30*time.Second, 0, 1)
}
