package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/loadbalancer"
	"github.com/gowhisk/gowhisk/messaging/lean"
	"github.com/gowhisk/gowhisk/runtimes"
)

// waitFor polls cond until it holds; reaching the bound is a hang, not a
// measurement.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestControllerAndInvokerFlagsHaveEnv(t *testing.T) {
	e := env{Getenv: func(string) string { return "" }}
	for _, cmd := range []struct {
		name  string
		flags *pflag.FlagSet
		min   int
	}{
		{"controller", newControllerCmd(e).Flags(), 20},
		{"invoker", newInvokerCmd(e).Flags(), 20},
	} {
		t.Run(cmd.name, func(t *testing.T) {
			n := 0
			cmd.flags.VisitAll(func(f *pflag.Flag) {
				n++
				want := "GOWHISK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
				if names := f.Annotations[envAnnotation]; len(names) != 1 || names[0] != want {
					t.Errorf("flag --%s: env %v, want %s", f.Name, names, want)
				}
			})
			if n < cmd.min {
				t.Fatalf("only %d flags", n)
			}
		})
	}
}

func TestControllerFlagsFromEnv(t *testing.T) {
	vars := map[string]string{
		"GOWHISK_CONTROLLER_ID": "7", "GOWHISK_CLUSTER_SIZE": "3", "GOWHISK_KAFKA_BROKERS": "k1:9092,k2:9092",
		"GOWHISK_COUCHDB_URL": "http://db:5984", "GOWHISK_TIMEOUT_ADDON": "5s", "GOWHISK_DB_PREFIX": "x_",
	}
	cmd := newControllerCmd(env{Getenv: func(k string) string { return vars[k] }})
	if err := cmd.ParseFlags([]string{"--cluster-size", "2"}); err != nil {
		t.Fatal(err)
	}
	vars["GOWHISK_CLUSTER_SIZE"] = "3" // the command line wins
	if err := applyEnv(cmd, func(k string) string { return vars[k] }); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"controller-id": "7", "cluster-size": "2", "kafka-brokers": "k1:9092,k2:9092",
		"couchdb-url": "http://db:5984", "timeout-addon": "5s", "db-prefix": "x_",
	} {
		if v := cmd.Flags().Lookup(flag).Value.String(); v != want {
			t.Errorf("--%s = %q, want %q", flag, v, want)
		}
	}
}

func validControllerOptions() controllerOptions {
	return controllerOptions{
		port: 3233, id: "0", clusterSize: 1, shutdownTimeout: time.Second,
		timeoutFloor: time.Minute, timeoutFactor: 2, timeoutAddon: time.Minute,
		cluster: clusterOptions{kafkaBrokers: "127.0.0.1:9092", couchURL: "http://127.0.0.1:5984", startupTimeout: time.Minute},
	}
}

func TestControllerValidate(t *testing.T) {
	if err := validControllerOptions().validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(*controllerOptions)
		want   string
	}{
		{"port out of range", func(o *controllerOptions) { o.port = 70000 }, "--port"},
		{"controller id with a slash", func(o *controllerOptions) { o.id = "a/b" }, "--controller-id"},
		{"empty controller id", func(o *controllerOptions) { o.id = "" }, "--controller-id"},
		{"no cluster", func(o *controllerOptions) { o.clusterSize = 0 }, "--cluster-size"},
		{"zero timeout factor", func(o *controllerOptions) { o.timeoutFactor = 0 }, "--timeout-factor"},
		{"zero timeout addon", func(o *controllerOptions) { o.timeoutAddon = 0 }, "--timeout-addon"},
		{"no brokers", func(o *controllerOptions) { o.cluster.kafkaBrokers = " , " }, "--kafka-brokers"},
		{"no couchdb", func(o *controllerOptions) { o.cluster.couchURL = "" }, "--couchdb-url"},
		{"negative limit", func(o *controllerOptions) { o.concurrent = -1 }, "limits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := validControllerOptions()
			tt.change(&o)
			err := o.validate()
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want a usage error about %s", err, tt.want)
			}
		})
	}
}

func TestInvokerValidate(t *testing.T) {
	ok := invokerOptions{
		id: 1, shutdownTimeout: time.Second,
		exec:    executionOptions{sandbox: "process", userMemoryMB: 1024, pauseGrace: time.Second, idleTimeout: time.Minute},
		cluster: clusterOptions{kafkaBrokers: "127.0.0.1:9092", couchURL: "http://127.0.0.1:5984", startupTimeout: time.Minute},
	}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(*invokerOptions)
		want   string
	}{
		{"negative id", func(o *invokerOptions) { o.id = -1 }, "--invoker-id"},
		{"id beyond the balancer's range", func(o *invokerOptions) { o.id = 4096 }, "--invoker-id"},
		{"unknown sandbox", func(o *invokerOptions) { o.exec.sandbox = "vm" }, "--sandbox"},
		{"tiny memory", func(o *invokerOptions) { o.exec.userMemoryMB = 64 }, "--user-memory"},
		{"zero startup timeout", func(o *invokerOptions) { o.cluster.startupTimeout = 0 }, "--startup-timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			err := o.validate()
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want a usage error about %s", err, tt.want)
			}
		})
	}
}

func TestRetryStartup(t *testing.T) {
	log := newTestLogger(t)
	calls := 0
	err := retryStartup(context.Background(), log, "thing", time.Minute, func(context.Context) error {
		calls++
		if calls < 2 {
			return entity.Errorf(entity.ErrUnavailable, "not yet")
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("retry of an unavailable service = %v after %d calls, want success after 2", err, calls)
	}
	calls = 0
	bad := entity.Invalidf("bad prefix")
	if err := retryStartup(context.Background(), log, "thing", time.Minute, func(context.Context) error { calls++; return bad }); !errors.Is(err, bad) || calls != 1 {
		t.Fatalf("configuration error = %v after %d calls, want it at once", err, calls)
	}
	err = retryStartup(context.Background(), log, "thing", 50*time.Millisecond, func(context.Context) error {
		return entity.Errorf(entity.ErrUnavailable, "down")
	})
	if !errors.Is(err, entity.ErrUnavailable) || !strings.Contains(err.Error(), "still unavailable") {
		t.Fatalf("service that stays down = %v", err)
	}
}

func TestLostRecords(t *testing.T) {
	ctx := context.Background()
	db, err := boltstore.Open(ctx, t.TempDir(), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	acts := db.Activations()
	mem := 256
	action, err := entity.NewAction(entity.NewFQN("guest", "pkg", "slow"), entity.ActionPut{
		Exec: &entity.Exec{Kind: "nodejs:20", Code: "x"}, Limits: &entity.ActionLimitsPut{Memory: &mem},
	}, 1, entity.DefaultSystemLimits())
	if err != nil {
		t.Fatal(err)
	}
	no := false
	guest := entity.NewIdentity("guest", entity.NamespaceKey{Name: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{})
	quiet := entity.NewIdentity("quiet", entity.NamespaceKey{Name: "quiet", UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{StoreActivations: &no})
	received := time.Now().Add(-time.Second)
	req := func(id entity.Identity) controller.ActivationRequest {
		return controller.ActivationRequest{ActivationID: entity.NewActivationID(), Identity: id, Action: action, Received: received, Cause: ""}
	}
	l := newLostRecords(acts, newTestLogger(t))
	l.grace = 0

	completed, lost, skipped := req(guest), req(guest), req(quiet)
	// The invoker wrote the record of completed.
	done := &entity.Activation{Namespace: "guest", Name: "slow", Subject: "guest", ActivationID: completed.ActivationID,
		Start: 1, End: 2, Response: entity.Response{StatusCode: entity.StatusSuccess, Result: []byte(`{"ok":true}`)}, Logs: []string{}, Version: entity.DefaultVersion}
	if err := acts.Put(ctx, done); err != nil {
		t.Fatal(err)
	}
	// The balancer forced the three complete (OnForcedCompletion).
	for _, r := range []controller.ActivationRequest{completed, lost, skipped} {
		l.forced(r)
	}
	waitFor(t, "the checks", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.pending) == 0
	})
	l.close(ctx)

	got, err := acts.Get(ctx, "guest", completed.ActivationID)
	if err != nil || got.Response.StatusCode != entity.StatusSuccess {
		t.Fatalf("completed activation's record = %+v, %v; want the invoker's, untouched", got, err)
	}
	rec, err := acts.Get(ctx, "guest", lost.ActivationID)
	if err != nil {
		t.Fatalf("lost activation has no record: %v", err)
	}
	if rec.Response.StatusCode != entity.StatusWhiskError || !strings.Contains(string(rec.Response.Result), "forced-completion timeout") ||
		rec.Name != "slow" || rec.Subject != "guest" || rec.Start != received.UnixMilli() || rec.End < rec.Start {
		t.Fatalf("lost activation's record = %+v (result %s)", rec, rec.Response.Result)
	}
	if p, _ := rec.Annotations.Get(entity.AnnotationPath); string(p) != `"guest/pkg/slow"` {
		t.Fatalf("path annotation = %s", p)
	}
	if _, err := acts.Get(ctx, "quiet", skipped.ActivationID); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("a namespace that stores no activations got a record: %v", err)
	}
}

func TestInvalidationsBetweenControllers(t *testing.T) {
	bus := lean.New(lean.Config{})
	t.Cleanup(func() { _ = bus.Close() })
	log := newTestLogger(t)
	type peer struct {
		iv  *invalidations
		mu  sync.Mutex
		got []string
	}
	peers := make([]*peer, 2)
	ctx := context.Background()
	for i, id := range []string{"0", "1"} {
		p := &peer{iv: newInvalidations(id, bus.Producer(), bus.Consumer("cacheInvalidation", "cacheInvalidationcontroller"+id), log)}
		p.iv.start(ctx, func(docID string) {
			p.mu.Lock()
			p.got = append(p.got, docID)
			p.mu.Unlock()
		})
		peers[i] = p
	}
	got := func(p *peer) []string {
		p.mu.Lock()
		defer p.mu.Unlock()
		return append([]string(nil), p.got...)
	}
	peers[0].iv.written(entity.KindAction, entity.NewFQN("guest", "", "hello"))
	peers[1].iv.written(entity.KindPackage, entity.NewFQN("guest", "", "pkg"))
	waitFor(t, "the invalidations", func() bool { return len(got(peers[0])) == 1 && len(got(peers[1])) == 1 })
	if g := got(peers[1]); g[0] != "guest/hello" {
		t.Fatalf("controller 1 invalidated %q, want guest/hello", g)
	}
	if g := got(peers[0]); g[0] != "guest/pkg" {
		t.Fatalf("controller 0 invalidated %q, want guest/pkg (never its own)", g)
	}
	for _, p := range peers {
		p.iv.stop(ctx)
	}
	// A write after stop is dropped, not a panic.
	peers[0].iv.written(entity.KindAction, entity.NewFQN("guest", "", "late"))
}

func TestStoreHealthAction(t *testing.T) {
	ctx := context.Background()
	db, err := boltstore.Open(ctx, t.TempDir(), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // create, then update at a controller's restart
		a, err := loadbalancer.HealthTestAction("3", m, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := storeHealthAction(ctx, db.Entities(), a); err != nil {
			t.Fatalf("store #%d: %v", i+1, err)
		}
	}
	d, err := db.Entities().Get(ctx, entity.KindAction, entity.NewFQN("whisk.system", "", "invokerHealthTestAction3"))
	if err != nil {
		t.Fatal(err)
	}
	if a := d.(*entity.Action); a.Exec.Code != loadbalancer.HealthActionCode || a.Limits.Memory != 128 {
		t.Fatalf("health action = %+v", a)
	}
}
