package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gowhisk/gowhisk/test/integration/pouchdb"
)

// brokerEnv, set to 1, makes TestKafkaBroker (broker_test.go) serve: the
// harness builds this package's test binary and runs it as the
// Kafka-protocol broker of row 8, so that kfake (a test-only dependency)
// stays out of the harness itself.
const brokerEnv = "GOWHISK_BENCH_KAFKA_BROKER"

const guestAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

var controllerLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)

// proc is a child process the distributed row started.
type proc struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	done chan error
	log  string
}

// startProc starts argv with its stderr in dir/name.log; lines of stdout
// go to the returned channel.
func startProc(dir, name string, env []string, argv ...string) (*proc, <-chan string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer lf.Close()
	cmd.Stderr = lf
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, in: in, done: make(chan error, 1), log: logPath}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	return p, lines, nil
}

// await waits for a stdout line matching re and returns its first group.
func (p *proc) await(lines <-chan string, re *regexp.Regexp, limit time.Duration) (string, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case l := <-lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1], nil
			}
		case err := <-p.done:
			p.done <- err
			return "", fmt.Errorf("%s exited (%v): %s", p.name, err, tail(p.log))
		case <-t.C:
			return "", fmt.Errorf("%s printed no %q within %s: %s", p.name, re, limit, tail(p.log))
		}
	}
}

// stop closes stdin, sends SIGTERM and waits (then kills).
func (p *proc) stop() {
	_ = p.in.Close()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		p.done <- <-p.done
	}
}

// pouchdbScript is the pouchdb-server the integration tests install.
func (b *bench) pouchdbScript() (string, error) {
	if s := os.Getenv(pouchdb.EnvVar); s != "" {
		return s, nil
	}
	s := filepath.Join(b.root, "test", "integration", "node_modules", "pouchdb-server", "bin", "pouchdb-server")
	if _, err := os.Stat(s); err != nil {
		return "", errors.New("needs pouchdb-server as the CouchDB API (`npm ci --prefix test/integration`, as `make test-integration` does)")
	}
	return s, nil
}

// distributed is section 8: a Kafka-protocol broker, a CouchDB-API server,
// one controller and one invoker as processes; warm nodejs noop at c=1
// (and c=16 for the rate).
func (b *bench) distributed() {
	if !b.want("8") {
		return
	}
	const id, scen = "8.dist.c1", "distributed warm c=1 nodejs noop"
	skip := func(why string) { b.add(Row{ID: id, Scenario: scen, Target: targetDist, Skipped: why}) }
	for _, c := range []string{"controller", "invoker"} {
		out, err := exec.Command(b.bin, c, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "gowhisk "+c) {
			skip("gowhisk " + c + " is not in this build")
			return
		}
	}
	script, err := b.pouchdbScript()
	if err != nil {
		skip(err.Error())
		return
	}
	ctx := b.ctx
	dir := filepath.Join(b.work, "distributed")
	if err := os.MkdirAll(filepath.Join(dir, "pouchdb"), 0o755); err != nil {
		b.fail(id, scen, err)
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	couch, err := pouchdb.Launch(lctx, pouchdb.Options{Bin: script, Dir: filepath.Join(dir, "pouchdb")})
	cancel()
	if err != nil {
		b.fail(id, scen, fmt.Errorf("pouchdb-server: %w", err))
		return
	}
	defer func() { _ = couch.Stop() }()

	brokerBin := filepath.Join(b.work, "kafka-broker.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", brokerBin, "./test/bench")
	build.Dir = b.root
	if out, err := build.CombinedOutput(); err != nil {
		b.fail(id, scen, fmt.Errorf("building the broker: %w\n%s", err, out))
		return
	}
	broker, lines, err := startProc(dir, "kafka", []string{brokerEnv + "=1"}, brokerBin, "-test.run", "^TestKafkaBroker$")
	if err != nil {
		b.fail(id, scen, err)
		return
	}
	defer broker.stop()
	brokers, err := broker.await(lines, regexp.MustCompile(`^KAFKA (\S+)$`), 30*time.Second)
	if err != nil {
		b.fail(id, scen, err)
		return
	}

	common := []string{"--couchdb-url", couch.URL, "--couchdb-user", couch.Username, "--couchdb-password", couch.Password}
	admin := exec.CommandContext(ctx, b.bin, append(append([]string{"admin"}, common...), "user", "create", "guest", "-u", guestAuth)...)
	if out, err := admin.CombinedOutput(); err != nil {
		b.fail(id, scen, fmt.Errorf("gowhisk admin user create guest: %w\n%s", err, out))
		return
	}
	ctl, lines, err := startProc(dir, "controller", nil, append([]string{b.bin, "controller", "--port", "0", "--kafka-brokers", brokers,
		"--invocations-per-minute", "100000000", "--concurrent-invocations", "100000", "--fires-per-minute", "100000000",
		"--log-level", "warn"}, common...)...)
	if err != nil {
		b.fail(id, scen, err)
		return
	}
	defer ctl.stop()
	apihost, err := ctl.await(lines, controllerLine, 90*time.Second)
	if err != nil {
		b.fail(id, scen, err)
		return
	}
	inv, _, err := startProc(dir, "invoker", nil, append([]string{b.bin, "invoker", "--invoker-id", "0", "--kafka-brokers", brokers,
		"--api-host", apihost, "--sandbox", "process", "--sandbox-dir", filepath.Join(dir, "sandbox"),
		"--cgroup-parent", "gowhisk-bench-distributed", "--user-memory", "16384", "--log-level", "warn"}, common...)...)
	if err != nil {
		b.fail(id, scen, err)
		return
	}
	defer inv.stop()

	a := api{newClient(apihost, guestAuth, 32)}
	defer a.close()
	if err := a.putAction(ctx, "noop-nodejs", nodeNoop); err != nil {
		b.fail(id, scen, err)
		return
	}
	// The controller routes to the invoker once it is healthy.
	deadline := time.Now().Add(90 * time.Second)
	for {
		err = a.invoke(ctx, "noop-nodejs")
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		b.fail(id, scen, fmt.Errorf("the invoker never ran the action: %w\ncontroller: %s\ninvoker: %s", err, tail(ctl.log), tail(inv.log)))
		return
	}
	pids := []int{ctl.cmd.Process.Pid, inv.cmd.Process.Pid, broker.cmd.Process.Pid}
	r := b.loadRow(id, scen, 1, b.invokeOp(a, "noop-nodejs"), pids...)
	r.Floor, r.RatioOf, r.Target = fmt.Sprintf(floorChain, floorChainNode, 1), "p50", targetDist
	r.Note = strings.TrimSpace(r.Note + " CPU: controller+invoker+broker; actions under the invoker")
	b.add(r)
	r = b.loadRow("8.dist.c16", "distributed warm throughput c=16 nodejs noop", 16, b.invokeOp(a, "noop-nodejs"), pids...)
	r.Floor, r.RatioOf = fmt.Sprintf(floorChain, floorChainNode, 16), "rate"
	b.add(r)
}
