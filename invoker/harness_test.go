package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
	"github.com/gowhisk/gowhisk/runtimes"
)

// fakeRunner is a hand-written pool: the first job of a key is cold, later
// ones warm; the response is respond(job), by default success with the
// run value echoed. Times are fixed offsets from base.
type fakeRunner struct {
	mu      sync.Mutex
	jobs    []pool.Job
	warm    map[pool.Key]bool
	base    time.Time
	respond func(pool.Job) (entity.Response, bool) // response, timed out
}

const (
	fakeWait = 7 * time.Millisecond // start - transid start, when transid start = base
	fakeInit = 3 * time.Millisecond
	fakeRun  = 5 * time.Millisecond
)

func newFakeRunner(base time.Time) *fakeRunner {
	return &fakeRunner{warm: map[pool.Key]bool{}, base: base}
}

func (f *fakeRunner) Run(_ context.Context, job pool.Job) pool.Outcome {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	cold := !f.warm[job.Key]
	f.warm[job.Key] = true
	respond := f.respond
	f.mu.Unlock()
	resp := entity.Response{StatusCode: entity.StatusSuccess, Result: job.Run.Value}
	timedOut := false
	if respond != nil {
		resp, timedOut = respond(job)
	}
	out := pool.Outcome{Response: resp, Logs: []string{"2026-01-01T00:00:00.000000000Z stdout: hello"}, Cold: cold,
		Start: f.base.Add(fakeWait), TimedOut: timedOut, ContainerID: "c1"}
	out.End = out.Start.Add(fakeRun)
	if cold {
		out.InitTime = fakeInit
		out.End = out.End.Add(fakeInit)
	}
	return out
}

func (f *fakeRunner) lastJob(t *testing.T) pool.Job {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.jobs) == 0 {
		t.Fatal("the runner got no job")
	}
	return f.jobs[len(f.jobs)-1]
}

func (f *fakeRunner) jobCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

// harness is an invoker over a real boltstore and the lean bus, driven by
// ActivationMessages the test sends; acks are read from completed0.
type harness struct {
	t      *testing.T
	db     *boltstore.DB
	bus    *lean.Bus
	runner *fakeRunner
	inv    *Invoker
	acks   messaging.Consumer
	prod   messaging.Producer
	base   time.Time
	cancel context.CancelFunc
	runErr chan error

	stopOnce  sync.Once
	runResult error // what Run returned, after stop
}

func newHarness(t *testing.T, opts ...func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := boltstore.Open(ctx, t.TempDir(), boltstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	bus := lean.New(lean.Config{})
	base := time.UnixMilli(1_800_000_000_000)
	h := &harness{t: t, db: db, bus: bus, runner: newFakeRunner(base), base: base, runErr: make(chan error, 1),
		acks: bus.Consumer(messaging.CompletedTopic("0"), messaging.CompletedTopic("0")), prod: bus.Producer()}
	cfg := Config{
		ID: 0, Consumer: bus.Consumer(messaging.InvokerTopic(0), messaging.InvokerTopic(0)), Producer: bus.Producer(),
		Entities: db.Entities(), Activations: db.Activations(), Pool: h.runner, Manifest: m,
		APIHost: "http://127.0.0.1:3233", Now: func() time.Time { return base.Add(fakeWait) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.inv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	go func() { h.runErr <- h.inv.Run(rctx) }()
	t.Cleanup(func() {
		h.stop()
		_ = bus.Close()
		_ = db.Close()
	})
	return h
}

// stop ends Run and waits for it (and so for every handler) to return.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.cancel()
		h.runResult = <-h.runErr
		if h.runResult != nil && !errors.Is(h.runResult, context.Canceled) {
			h.t.Errorf("Run = %v", h.runResult)
		}
	})
}

func guest() entity.Identity {
	return entity.NewIdentity(entity.GuestSubject, entity.NamespaceKey{Name: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{})
}

// putAction creates an action and returns it with its revision.
func (h *harness) putAction(name entity.FQN, exec entity.Exec, params entity.Params, ann entity.Params) *entity.Action {
	h.t.Helper()
	put := entity.ActionPut{Exec: &exec}
	if params != nil {
		put.Parameters = &params
	}
	if ann != nil {
		put.Annotations = &ann
	}
	a, err := entity.NewAction(name, put, 1, entity.DefaultSystemLimits())
	if err != nil {
		h.t.Fatal(err)
	}
	rev, err := h.db.Entities().Put(context.Background(), a)
	if err != nil {
		h.t.Fatal(err)
	}
	a.SetRevision(rev)
	return a
}

func nodeExec() entity.Exec {
	return entity.Exec{Kind: "nodejs:20", Code: "function main(a){return a}"}
}

// message builds an ActivationMessage for a, sent as guest.
func (h *harness) message(a *entity.Action, blocking bool, content string) *messaging.ActivationMessage {
	m := &messaging.ActivationMessage{
		TransID:             messaging.TransactionID{ID: "tid-1", Start: h.base.UnixMilli()},
		Action:              messaging.ActionRef{Path: a.Namespace, Name: a.Name, Version: a.Version},
		Revision:            a.Revision(),
		User:                guest(),
		ActivationID:        entity.NewActivationID(),
		RootControllerIndex: messaging.ControllerInstanceID{AsString: "0"},
		Blocking:            blocking,
	}
	if content != "" {
		m.Content = json.RawMessage(content)
	}
	for _, p := range a.Parameters {
		if p.Init {
			m.InitArgs = append(m.InitArgs, p.Key)
		}
	}
	return m
}

func (h *harness) send(m *messaging.ActivationMessage) {
	h.t.Helper()
	b, err := m.AppendJSON(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sendRaw(b)
}

func (h *harness) sendRaw(b []byte) {
	h.t.Helper()
	if err := h.prod.Send(context.Background(), messaging.InvokerTopic(0), b); err != nil {
		h.t.Fatal(err)
	}
}

// nextAck returns the next ack on completed0.
func (h *harness) nextAck() messaging.Ack {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := h.acks.Fetch(ctx)
	if err != nil {
		h.t.Fatalf("no ack: %v", err)
	}
	a, err := messaging.AckFrom(&m)
	if err != nil {
		h.t.Fatalf("ack %s: %v", m.Value, err)
	}
	return a
}

// stored waits for the record of id in namespace guest (it is written
// right after the ack).
func (h *harness) stored(id string) *entity.Activation {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := h.db.Activations().Get(context.Background(), "guest", id)
		if err == nil {
			return rec
		}
		if !errors.Is(err, entity.ErrNotFound) || time.Now().After(deadline) {
			h.t.Fatalf("record %s: %v", id, err)
		}
		time.Sleep(time.Millisecond)
	}
}
