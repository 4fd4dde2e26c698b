package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/lean"
)

// harness is a lean balancer on a lean bus, with the invoker's side of the
// bus in the test's hands.
type harness struct {
	t       *testing.T
	bus     *lean.Bus
	lb      *Lean
	invoker messaging.Consumer
	acks    messaging.Producer
	runErr  chan error
	cancel  context.CancelFunc
}

func newHarness(t *testing.T, opts ...func(*LeanConfig)) *harness {
	t.Helper()
	bus := lean.New(lean.Config{})
	cfg := LeanConfig{Producer: bus.Producer(), Acks: bus.Consumer(messaging.CompletedTopic("0"), messaging.CompletedTopic("0"))}
	for _, o := range opts {
		o(&cfg)
	}
	lb, err := NewLean(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Acks == nil {
		if _, err := bus.Handle(messaging.CompletedTopic("0"), lb.HandleAck); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, bus: bus, lb: lb, invoker: bus.Consumer(messaging.InvokerTopic(0), messaging.InvokerTopic(0)),
		acks: bus.Producer(), runErr: make(chan error, 1), cancel: cancel}
	go func() { h.runErr <- lb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-h.runErr
		_ = bus.Close()
	})
	return h
}

func (h *harness) request(blocking bool) controller.ActivationRequest {
	return controller.ActivationRequest{
		ActivationID: entity.NewActivationID(), TransactionID: "tid-" + h.t.Name(), Identity: testIdentity(),
		Action: testAction(h.t, 1000), Args: json.RawMessage(`{"a":1}`), Blocking: blocking, Received: time.Now(),
	}
}

// takeMessage is the invoker's side: the next ActivationMessage.
func (h *harness) takeMessage() *messaging.ActivationMessage {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := h.invoker.Fetch(ctx)
	if err != nil {
		h.t.Fatalf("invoker Fetch: %v", err)
	}
	am, err := messaging.ActivationFrom(&m)
	if err != nil {
		h.t.Fatalf("decode: %v", err)
	}
	return am
}

func (h *harness) ack(a messaging.Ack) {
	h.t.Helper()
	b, err := a.AppendJSON(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.acks.Send(context.Background(), messaging.CompletedTopic("0"), b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) sendRaw(b string) {
	if err := h.acks.Send(context.Background(), messaging.CompletedTopic("0"), []byte(b)); err != nil {
		h.t.Fatal(err)
	}
}

// await reads the waiter: the record, or nil if it was closed empty.
func await(t *testing.T, ch <-chan *entity.Activation) *entity.Activation {
	t.Helper()
	select {
	case rec, ok := <-ch:
		if !ok {
			return nil
		}
		if _, more := <-ch; more {
			t.Fatal("waiter delivered twice")
		}
		return rec
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never resolved")
	}
	return nil
}

// waitIdle waits until nothing is in flight (acks are processed
// asynchronously by Run).
func (h *harness) waitIdle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, mem := h.lb.InFlight()
		if n == 0 && mem == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("still in flight: %d activations, %d MB", n, mem)
		}
		time.Sleep(time.Millisecond)
	}
}

func record(id string) *entity.Activation {
	return &entity.Activation{Namespace: "guest", Name: "hello", Subject: "guest", ActivationID: id, Start: 1, End: 2,
		Response: entity.Response{StatusCode: 0, Result: json.RawMessage(`{"ok":true}`)}, Logs: []string{"l"}, Version: entity.SemVer{Patch: 1}}
}

var invoker0 = messaging.InvokerInstanceID{Instance: 0, UserMemory: 1024 * messaging.MB}

func TestBlockingResolvedByCombinedAck(t *testing.T) {
	h := newHarness(t)
	req := h.request(true)
	ch, err := h.lb.Activate(context.Background(), req)
	if err != nil || ch == nil {
		t.Fatalf("Activate = %v, %v", ch, err)
	}
	if n, mem := h.lb.InFlight(); n != 1 || mem != 256 {
		t.Fatalf("in flight %d, %d MB", n, mem)
	}
	m := h.takeMessage()
	if m.ActivationID != req.ActivationID || !m.Blocking || m.Action.FQN().DocID() != "guest/pkg/hello" || m.Revision != "2-abc" ||
		m.RootControllerIndex.AsString != "0" || m.TransID.ID != req.TransactionID || string(m.Content) != `{"a":1}` {
		t.Fatalf("message %+v", m)
	}
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	rec := await(t, ch)
	if rec == nil || rec.ActivationID != req.ActivationID || string(rec.Response.Result) != `{"ok":true}` {
		t.Fatalf("record %+v", rec)
	}
	h.waitIdle()
}

func TestResultThenCompletion(t *testing.T) {
	h := newHarness(t)
	ch, err := h.lb.Activate(context.Background(), h.request(true))
	if err != nil {
		t.Fatal(err)
	}
	m := h.takeMessage()
	h.ack(messaging.Ack{Kind: messaging.AckResult, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID)})
	if rec := await(t, ch); rec == nil {
		t.Fatal("no record from the result ack")
	}
	// The slot stays taken until the completion.
	if n, _ := h.lb.InFlight(); n != 1 {
		t.Fatalf("in flight after the result: %d", n)
	}
	h.ack(messaging.Ack{Kind: messaging.AckCompletion, TransID: m.TransID, ActivationID: m.ActivationID, Invoker: invoker0})
	h.waitIdle()
}

func TestBlockingCompletionWithoutRecordClosesEmpty(t *testing.T) {
	for _, kind := range []messaging.AckKind{messaging.AckCompletion, messaging.AckCombined} {
		t.Run(kind.String(), func(t *testing.T) {
			h := newHarness(t)
			ch, err := h.lb.Activate(context.Background(), h.request(true))
			if err != nil {
				t.Fatal(err)
			}
			m := h.takeMessage()
			// Combined shrunk to the id, or a plain completion.
			h.ack(messaging.Ack{Kind: kind, TransID: m.TransID, ActivationID: m.ActivationID, Invoker: invoker0})
			if rec := await(t, ch); rec != nil {
				t.Fatalf("got a record %+v", rec)
			}
			h.waitIdle()
		})
	}
}

func TestNonBlocking(t *testing.T) {
	h := newHarness(t)
	ch, err := h.lb.Activate(context.Background(), h.request(false))
	if err != nil || ch != nil {
		t.Fatalf("Activate = %v, %v; want a nil channel", ch, err)
	}
	m := h.takeMessage()
	if m.Blocking {
		t.Fatal("message says blocking")
	}
	h.ack(messaging.Ack{Kind: messaging.AckCompletion, TransID: m.TransID, ActivationID: m.ActivationID, Invoker: invoker0})
	h.waitIdle()
}

func TestMalformedAndUnknownAcksAreIgnored(t *testing.T) {
	h := newHarness(t)
	ch, err := h.lb.Activate(context.Background(), h.request(true))
	if err != nil {
		t.Fatal(err)
	}
	m := h.takeMessage()
	h.sendRaw(`{not json`)
	h.sendRaw(`{"transid":["t",1]}`)
	h.ack(messaging.Ack{Kind: messaging.AckCombined, ActivationID: entity.NewActivationID(), Invoker: invoker0})
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	if rec := await(t, ch); rec == nil || rec.ActivationID != m.ActivationID {
		t.Fatalf("record %+v", rec)
	}
	h.waitIdle()
}

func TestForcedTimeoutReleases(t *testing.T) {
	h := newHarness(t, func(c *LeanConfig) {
		c.TimeoutFloor, c.TimeoutFactor, c.TimeoutAddon = time.Millisecond, 1, time.Millisecond
	})
	req := h.request(true)
	req.Action.Limits.Timeout = 1
	ch, err := h.lb.Activate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if rec := await(t, ch); rec != nil {
		t.Fatalf("forced completion delivered %+v", rec)
	}
	h.waitIdle()
	// A late ack for it is ignored.
	m := h.takeMessage()
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	h.waitIdle()
}

func TestBusClosedIsUnavailable(t *testing.T) {
	h := newHarness(t)
	_ = h.bus.Close()
	_, err := h.lb.Activate(context.Background(), h.request(true))
	if !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Activate on a closed bus = %v, want ErrUnavailable", err)
	}
	if n, mem := h.lb.InFlight(); n != 0 || mem != 0 {
		t.Fatalf("failed activation left %d in flight (%d MB)", n, mem)
	}
}

func TestRunEndClosesWaitersAndBalancer(t *testing.T) {
	h := newHarness(t)
	ch, err := h.lb.Activate(context.Background(), h.request(true))
	if err != nil {
		t.Fatal(err)
	}
	h.cancel()
	if err := <-h.runErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	h.runErr <- nil // for the cleanup
	if rec := await(t, ch); rec != nil {
		t.Fatalf("got %+v", rec)
	}
	if _, err := h.lb.Activate(context.Background(), h.request(false)); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Activate after Run ended = %v", err)
	}
}

func TestActivateHonoursContextWhenBusFull(t *testing.T) {
	bus := lean.New(lean.Config{QueueLength: 1, SendTimeout: time.Hour})
	defer bus.Close()
	lb, err := NewLean(LeanConfig{Producer: bus.Producer(), Acks: bus.Consumer("completed0", "completed0")})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t}
	if _, err := lb.Activate(context.Background(), h.request(false)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := lb.Activate(ctx, h.request(false)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Activate on a full bus = %v", err)
	}
	if n, _ := lb.InFlight(); n != 1 {
		t.Fatalf("in flight %d, want 1", n)
	}
}

// Without an ack consumer, the bus hands acks to HandleAck in the
// sender's goroutine: the waiter has its record when the send returns.
func TestAcksHandedInline(t *testing.T) {
	h := newHarness(t, func(c *LeanConfig) { c.Acks = nil })
	req := h.request(true)
	done, err := h.lb.Activate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	m := h.takeMessage()
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	select {
	case rec := <-done:
		if rec == nil || rec.ActivationID != req.ActivationID {
			t.Fatalf("waiter got %+v", rec)
		}
	default:
		t.Fatal("the waiter has no record once the ack was sent")
	}
	if n, _ := h.lb.InFlight(); n != 0 {
		t.Fatalf("%d still in flight", n)
	}
	h.sendRaw(`{"not":"an ack"}`) // logged and dropped
	h.cancel()
	if err := <-h.runErr; err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	h.runErr <- nil // for the cleanup
	if _, err := h.lb.Activate(context.Background(), h.request(true)); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Activate after Run ended = %v, want ErrUnavailable", err)
	}
}

func TestNewLeanValidation(t *testing.T) {
	bus := lean.New(lean.Config{})
	defer bus.Close()
	for name, cfg := range map[string]LeanConfig{
		"no producer": {Acks: bus.Consumer("c", "c")},
		"bad id":      {Producer: bus.Producer(), Acks: bus.Consumer("c", "c"), ControllerID: "a/b"},
		"bad invoker": {Producer: bus.Producer(), Acks: bus.Consumer("c", "c"), Invoker: -1},
	} {
		if _, err := NewLean(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// flakyConsumer fails its first Fetch with a transient error.
type flakyConsumer struct {
	messaging.Consumer
	once sync.Once
}

func (c *flakyConsumer) Fetch(ctx context.Context) (messaging.Message, error) {
	var failed bool
	c.once.Do(func() { failed = true })
	if failed {
		return messaging.Message{}, errors.New("broker hiccup")
	}
	return c.Consumer.Fetch(ctx)
}

func TestTransientAckFetchErrorIsRetried(t *testing.T) {
	h := newHarness(t, func(c *LeanConfig) { c.Acks = &flakyConsumer{Consumer: c.Acks} })
	ch, err := h.lb.Activate(context.Background(), h.request(true))
	if err != nil {
		t.Fatal(err)
	}
	m := h.takeMessage()
	h.ack(messaging.Ack{Kind: messaging.AckCombined, TransID: m.TransID, ActivationID: m.ActivationID, Record: record(m.ActivationID), Invoker: invoker0})
	if rec := await(t, ch); rec == nil {
		t.Fatal("no record after a transient fetch error")
	}
}
