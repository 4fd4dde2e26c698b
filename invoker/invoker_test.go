package invoker

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/messaging"
)

// annotations decodes a record's annotations into a map.
func annotations(t *testing.T, rec *entity.Activation) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, p := range rec.Annotations {
		var v any
		if err := json.Unmarshal(p.Value, &v); err != nil {
			t.Fatalf("annotation %s: %v", p.Key, err)
		}
		out[p.Key] = v
	}
	return out
}

func keys(rec *entity.Activation) []string {
	var ks []string
	for _, p := range rec.Annotations {
		ks = append(ks, p.Key)
	}
	return ks
}

func TestSuccessRecordAndAck(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, true, `{"name":"John"}`)
	h.send(m)

	ack := h.nextAck()
	if ack.Kind != messaging.AckCombined || ack.ActivationID != m.ActivationID || ack.IsSystemError || ack.TransID != m.TransID ||
		ack.Invoker.Instance != 0 || ack.Invoker.UserMemory != 2048*messaging.MB {
		t.Fatalf("ack %+v", ack)
	}
	rec := ack.Record
	if rec == nil {
		t.Fatal("blocking ack without record")
	}
	start := h.base.Add(fakeWait).UnixMilli()
	if rec.Namespace != "guest" || rec.Name != "hello" || rec.Subject != "guest" || rec.ActivationID != m.ActivationID ||
		rec.Start != start || rec.End != start+8 || rec.Duration == nil || *rec.Duration != 8 || rec.Publish ||
		rec.Version != a.Version || rec.Cause != "" || string(rec.Response.Result) != `{"name":"John"}` || rec.Response.StatusCode != 0 ||
		len(rec.Logs) != 1 {
		t.Fatalf("record %+v", rec)
	}
	if got, want := keys(rec), []string{"limits", "path", "kind", "timeout", "initTime", "waitTime"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("annotation keys %v, want %v", got, want)
	}
	ann := annotations(t, rec)
	wantAnn := map[string]any{
		"limits":   map[string]any{"timeout": 60000.0, "memory": 256.0, "logs": 10.0, "concurrency": 1.0},
		"path":     "guest/hello",
		"kind":     "nodejs:20",
		"timeout":  false,
		"initTime": 3.0,
		"waitTime": 7.0,
	}
	if !reflect.DeepEqual(ann, wantAnn) {
		t.Fatalf("annotations %v\nwant %v", ann, wantAnn)
	}
	stored := h.stored(m.ActivationID)
	if stored.ActivationID != rec.ActivationID || !reflect.DeepEqual(stored.Annotations, rec.Annotations) {
		t.Fatalf("stored %+v", stored)
	}

	job := h.runner.lastJob(t)
	if job.Key != (pool.Key{Namespace: "guest", Action: "guest/hello", Revision: a.Revision()}) ||
		job.Spec.Kind != "nodejs:20" || job.Spec.Image != "openwhisk/action-nodejs-v20:nightly" || job.Spec.MemoryMB != 256 ||
		job.Spec.Env["__OW_API_HOST"] != "http://127.0.0.1:3233" || job.Timeout != time.Minute || job.LogLimit != 10<<20 || job.Concurrency != 1 {
		t.Fatalf("job %+v", job)
	}
	if job.Init.Name != "hello" || job.Init.Main != "main" || job.Init.Code != a.Exec.Code || job.Init.Binary {
		t.Fatalf("init %+v", job.Init)
	}
	deadline := strconv.FormatInt(h.base.Add(fakeWait+time.Minute).UnixMilli(), 10)
	if job.Run.Namespace != "guest" || job.Run.ActionName != "/guest/hello" || job.Run.ActionVersion != "0.0.1" ||
		job.Run.ActivationID != m.ActivationID || job.Run.TransactionID != "tid-1" || job.Run.Deadline != deadline {
		t.Fatalf("run %+v", job.Run)
	}
	for k, want := range map[string]string{"__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/hello", "__OW_ACTION_VERSION": "0.0.1",
		"__OW_ACTIVATION_ID": m.ActivationID, "__OW_TRANSACTION_ID": "tid-1", "__OW_DEADLINE": deadline} {
		if job.Init.Env[k] != want {
			t.Errorf("init env %s = %q, want %q", k, job.Init.Env[k], want)
		}
	}
}

func TestColdThenWarm(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	h.send(h.message(a, true, `{}`))
	first := h.nextAck().Record
	h.send(h.message(a, true, `{}`))
	second := h.nextAck().Record
	if _, ok := annotations(t, first)["initTime"]; !ok {
		t.Fatalf("cold start without initTime: %v", keys(first))
	}
	if _, ok := annotations(t, second)["initTime"]; ok {
		t.Fatalf("warm start with initTime: %v", keys(second))
	}
	if *second.Duration != 5 {
		t.Fatalf("warm duration %d", *second.Duration)
	}
}

func TestNotFoundFallback(t *testing.T) {
	for _, blocking := range []bool{true, false} {
		t.Run("blocking="+strconv.FormatBool(blocking), func(t *testing.T) {
			h := newHarness(t)
			ghost := &entity.Action{}
			ghost.Namespace, ghost.Name, ghost.Version = "guest/pkg", "ghost", entity.SemVer{Patch: 3}
			m := h.message(ghost, blocking, `{}`)
			m.Revision = "1-gone"
			h.send(m)
			ack := h.nextAck()
			if blocking && (ack.Kind != messaging.AckCombined || ack.Record == nil) {
				t.Fatalf("ack %+v", ack)
			}
			if !blocking && (ack.Kind != messaging.AckCompletion || ack.Record != nil) {
				t.Fatalf("ack %+v", ack)
			}
			if ack.IsSystemError {
				t.Fatal("not found is not a system error")
			}
			rec := h.stored(m.ActivationID)
			if rec.Response.StatusCode != entity.StatusApplicationError || string(rec.Response.Result) != `{"error":"Action could not be found or may have been deleted."}` ||
				rec.Name != "ghost" || rec.Duration == nil || *rec.Duration != 0 || rec.Start != rec.End || rec.Version != (entity.SemVer{Patch: 3}) {
				t.Fatalf("record %+v", rec)
			}
			if ann := annotations(t, rec); !reflect.DeepEqual(ann, map[string]any{"path": "guest/pkg/ghost", "kind": "unknown"}) {
				t.Fatalf("annotations %v", ann)
			}
			if h.runner.jobCount() != 0 {
				t.Fatal("a missing action reached the pool")
			}
		})
	}
}

func TestRevisionMismatchRunsCurrentAction(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	old := h.message(a, true, `{}`)
	// Update the action: the message still names the old revision.
	upd := a.Update(entity.ActionPut{Exec: &entity.Exec{Kind: "nodejs:20", Code: "function main(){return {v:2}}"}}, 2)
	rev, err := h.db.Entities().Put(context.Background(), upd)
	if err != nil {
		t.Fatal(err)
	}
	h.send(old)
	rec := h.nextAck().Record
	if rec == nil || rec.Response.StatusCode != 0 {
		t.Fatalf("record %+v", rec)
	}
	job := h.runner.lastJob(t)
	if job.Key.Revision != rev || !strings.Contains(job.Init.Code, "v:2") || rec.Version != upd.Version {
		t.Fatalf("ran revision %s (code %q, version %v), want the current %s", job.Key.Revision, job.Init.Code, rec.Version, rev)
	}
	// The current revision is now cached: a message naming it does not
	// need the store (deleting the action does not stop it, as in OpenWhisk).
	if err := h.db.Entities().Delete(context.Background(), entity.KindAction, a.FullName(), ""); err != nil {
		t.Fatal(err)
	}
	cur := h.message(a, true, `{}`)
	cur.Revision = rev
	h.send(cur)
	if rec := h.nextAck().Record; rec == nil || rec.Response.StatusCode != 0 {
		t.Fatalf("cached revision: record %+v", rec)
	}
}

func TestNonBlockingCompletion(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, false, `{"x":1}`)
	h.send(m)
	ack := h.nextAck()
	if ack.Kind != messaging.AckCompletion || ack.Record != nil || ack.ActivationID != m.ActivationID {
		t.Fatalf("ack %+v", ack)
	}
	if rec := h.stored(m.ActivationID); string(rec.Response.Result) != `{"x":1}` {
		t.Fatalf("record %+v", rec)
	}
}

func TestWhiskErrorIsSystemError(t *testing.T) {
	h := newHarness(t)
	h.runner.respond = func(pool.Job) (entity.Response, bool) {
		return entity.ErrorResponse(entity.StatusWhiskError, "Failed to provision resources to run the action."), false
	}
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	h.send(h.message(a, false, `{}`))
	if ack := h.nextAck(); !ack.IsSystemError {
		t.Fatalf("ack %+v", ack)
	}
}

func TestTimeoutAnnotation(t *testing.T) {
	h := newHarness(t)
	h.runner.respond = func(pool.Job) (entity.Response, bool) {
		return entity.ErrorResponse(entity.StatusDeveloperError, "The action exceeded its time limits of 60000 milliseconds."), true
	}
	a := h.putAction(entity.NewFQN("guest", "", "slow"), nodeExec(), nil, nil)
	h.send(h.message(a, true, `{}`))
	rec := h.nextAck().Record
	if ann := annotations(t, rec); ann["timeout"] != true || rec.Response.StatusCode != entity.StatusDeveloperError {
		t.Fatalf("record %+v annotations %v", rec, ann)
	}
}

func TestStoreActivationsFalse(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, true, `{}`)
	m.User.Limits.StoreActivations = new(bool)
	h.send(m)
	if ack := h.nextAck(); ack.Record == nil {
		t.Fatalf("blocking ack without record: %+v", ack)
	}
	h.stop() // Run returns only after every handler finished
	if _, err := h.db.Activations().Get(context.Background(), "guest", m.ActivationID); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("record stored despite storeActivations=false: %v", err)
	}
}

func TestInitParamsAndBinding(t *testing.T) {
	h := newHarness(t)
	params := entity.Params{
		{Key: "secret", Value: json.RawMessage(`"s3cr3t"`), Init: true},
		{Key: "conf", Value: json.RawMessage(`{"a":[1,2]}`), Init: true},
		{Key: "plain", Value: json.RawMessage(`1`)},
	}
	a := h.putAction(entity.NewFQN("guest", "pkg", "hello"), nodeExec(), params, nil)
	m := h.message(a, true, `{"secret":"s3cr3t","conf":{"a":[1,2]},"plain":1,"name":"x"}`)
	m.Action.Binding = "guest/bound"
	m.Cause = entity.NewActivationID()
	h.send(m)
	rec := h.nextAck().Record
	job := h.runner.lastJob(t)
	if string(job.Run.Value) != `{"plain":1,"name":"x"}` {
		t.Fatalf("run value %s", job.Run.Value)
	}
	if job.Init.Env["secret"] != "s3cr3t" || job.Init.Env["conf"] != `{"a":[1,2]}` {
		t.Fatalf("init env %v", job.Init.Env)
	}
	if _, ok := job.Init.Env["plain"]; ok {
		t.Fatal("a run parameter reached the init env")
	}
	ann := annotations(t, rec)
	if ann["binding"] != "guest/bound" || ann["path"] != "guest/pkg/hello" || ann["causedBy"] != "sequence" || rec.Cause != m.Cause {
		t.Fatalf("record %+v annotations %v", rec, ann)
	}
	if got, want := keys(rec), []string{"limits", "path", "kind", "timeout", "causedBy", "initTime", "waitTime", "binding"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("annotation order %v, want %v", got, want)
	}
	if rec.EntityPath() != "bound/hello" {
		t.Fatalf("listed as %q", rec.EntityPath())
	}
}

func TestProvideAPIKeyThroughTheLoop(t *testing.T) {
	h := newHarness(t)
	on := h.putAction(entity.NewFQN("guest", "", "on"), nodeExec(), nil, entity.Params{{Key: "provide-api-key", Value: json.RawMessage(`true`)}})
	off := h.putAction(entity.NewFQN("guest", "", "off"), nodeExec(), nil, nil) // NewAction writes provide-api-key: false
	h.send(h.message(on, true, `{}`))
	h.nextAck()
	if job := h.runner.lastJob(t); job.Run.APIKey != entity.GuestAuthToken || job.Init.Env["__OW_API_KEY"] != entity.GuestAuthToken {
		t.Fatalf("provide-api-key true: run %q env %q", job.Run.APIKey, job.Init.Env["__OW_API_KEY"])
	}
	h.send(h.message(off, true, `{}`))
	h.nextAck()
	job := h.runner.lastJob(t)
	if _, ok := job.Init.Env["__OW_API_KEY"]; ok || job.Run.APIKey != "" {
		t.Fatalf("provide-api-key false: run %q env %v", job.Run.APIKey, job.Init.Env)
	}
	b, _ := json.Marshal(job.Run)
	if strings.Contains(string(b), "api_key") {
		t.Fatalf("run body carries api_key: %s", b)
	}
}

func TestSequenceIsNotExecuted(t *testing.T) {
	h := newHarness(t)
	h.putAction(entity.NewFQN("guest", "", "a"), nodeExec(), nil, nil)
	seq := h.putAction(entity.NewFQN("guest", "", "seq"), entity.Exec{Kind: "sequence", Components: []string{"/guest/a"}}, nil, nil)
	h.send(h.message(seq, true, `{}`))
	rec := h.nextAck().Record
	if rec.Response.StatusCode != entity.StatusApplicationError || !strings.Contains(string(rec.Response.Result), MsgSequenceNotHandled) ||
		annotations(t, rec)["kind"] != "sequence" || h.runner.jobCount() != 0 {
		t.Fatalf("record %+v", rec)
	}
}

func TestLimitsRecheckedAgainstNamespace(t *testing.T) {
	h := newHarness(t)
	a := h.putAction(entity.NewFQN("guest", "", "big"), nodeExec(), nil, nil) // 256 MB
	m := h.message(a, true, `{}`)
	maxMem := 128
	m.User.Limits.MaxActionMemory = &maxMem
	h.send(m)
	rec := h.nextAck().Record
	if rec.Response.StatusCode != entity.StatusApplicationError || !strings.Contains(string(rec.Response.Result), "memory 256 MB exceeds allowed threshold of 128 MB") ||
		h.runner.jobCount() != 0 {
		t.Fatalf("record %+v", rec)
	}
}

func TestBlackboxSpec(t *testing.T) {
	h := newHarness(t)
	native := h.putAction(entity.NewFQN("guest", "", "native"), entity.Exec{Kind: "blackbox", Image: "openwhisk/dockerskeleton", Code: "IyEvYmluL3NoCg=="}, nil, nil)
	user := h.putAction(entity.NewFQN("guest", "", "user"), entity.Exec{Kind: "blackbox", Image: "me/img:1"}, nil, nil)
	h.send(h.message(native, true, `{}`))
	h.nextAck()
	if job := h.runner.lastJob(t); !job.Spec.Native || job.Spec.Kind != "blackbox" || job.Spec.Image != "openwhisk/dockerskeleton:nightly" || !job.Init.Binary {
		t.Fatalf("native job %+v", job)
	}
	h.send(h.message(user, true, `{}`))
	h.nextAck()
	if job := h.runner.lastJob(t); job.Spec.Native || job.Spec.Image != "me/img:1" || job.Init.Code != "" {
		t.Fatalf("user blackbox job %+v", job)
	}
}

func TestMalformedMessageIsDropped(t *testing.T) {
	h := newHarness(t)
	h.sendRaw([]byte(`{"garbage":`))
	h.sendRaw([]byte(`{"activationId":"x"}`))
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, true, `{}`)
	h.send(m)
	if ack := h.nextAck(); ack.ActivationID != m.ActivationID {
		t.Fatalf("ack %+v", ack)
	}
}

func TestManyConcurrentActivations(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxConcurrent = 4 })
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	want := map[string]bool{}
	for i := range 50 {
		m := h.message(a, i%2 == 0, `{"i":`+strconv.Itoa(i)+`}`)
		want[m.ActivationID] = true
		h.send(m)
	}
	for range 50 {
		ack := h.nextAck()
		if !want[ack.ActivationID] {
			t.Fatalf("unexpected or duplicate ack %s", ack.ActivationID)
		}
		delete(want, ack.ActivationID)
	}
}

func TestRunEndsWhenConsumerCloses(t *testing.T) {
	h := newHarness(t)
	_ = h.bus.Close()
	err := <-h.runErr
	h.runErr <- err // for stop
	if err != nil {
		t.Fatalf("Run after the bus closed = %v", err)
	}
}

func TestNewValidation(t *testing.T) {
	h := newHarness(t)
	base := h.inv.cfg
	for name, mutate := range map[string]func(*Config){
		"no consumer":    func(c *Config) { c.Consumer = nil },
		"no producer":    func(c *Config) { c.Producer = nil },
		"no entities":    func(c *Config) { c.Entities = nil },
		"no activations": func(c *Config) { c.Activations = nil },
		"no pool":        func(c *Config) { c.Pool = nil },
		"no manifest":    func(c *Config) { c.Manifest = nil },
		"negative id":    func(c *Config) { c.ID = -1 },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if h.inv.cfg.MaxConcurrent != 16 {
		t.Fatalf("default concurrency %d, want 2048/128", h.inv.cfg.MaxConcurrent)
	}
}

// tooLargeProducer rejects ack messages above limit bytes, as Kafka does
// above max.request.size.
type tooLargeProducer struct {
	messaging.Producer
	limit int
}

func (p tooLargeProducer) Send(ctx context.Context, topic string, msg []byte) error {
	if strings.HasPrefix(topic, "completed") && len(msg) > p.limit {
		return entity.Errorf(entity.ErrTooLarge, "too large")
	}
	return p.Producer.Send(ctx, topic, msg)
}

func TestOversizedAckIsShrunkToTheID(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Producer = tooLargeProducer{c.Producer, 400} })
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, true, `{"big":"`+strings.Repeat("x", 500)+`"}`)
	h.send(m)
	ack := h.nextAck()
	if ack.Kind != messaging.AckCombined || ack.Record != nil || ack.ActivationID != m.ActivationID {
		t.Fatalf("ack %+v", ack)
	}
	if rec := h.stored(m.ActivationID); !strings.Contains(string(rec.Response.Result), "xxxx") {
		t.Fatalf("stored %+v", rec)
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

func TestTransientFetchErrorIsRetried(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Consumer = &flakyConsumer{Consumer: c.Consumer} })
	a := h.putAction(entity.NewFQN("guest", "", "hello"), nodeExec(), nil, nil)
	m := h.message(a, true, `{}`)
	h.send(m)
	if ack := h.nextAck(); ack.ActivationID != m.ActivationID {
		t.Fatalf("ack %+v", ack)
	}
}
