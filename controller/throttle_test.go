package controller

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

func TestEpochMinute(t *testing.T) {
	cases := []struct {
		name string
		ms   int64
		want int64
	}{
		{"epoch", 0, 0},
		{"last millisecond of the first minute", 59_999, 0},
		{"first millisecond of the second minute", 60_000, 1},
		{"2023-11-14T22:13:20Z", 1_700_000_000_000, 28_333_333},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := epochMinute(tc.ms); got != tc.want {
				t.Errorf("epochMinute(%d) = %d, want %d", tc.ms, got, tc.want)
			}
		})
	}
}

func TestRateBucketCharge(t *testing.T) {
	cases := []struct {
		name   string
		b      rateBucket
		minute int64
		want   rateBucket
	}{
		{"first request of a namespace", rateBucket{}, 100, rateBucket{100, 1}},
		{"same minute counts on", rateBucket{100, 60}, 100, rateBucket{100, 61}},
		{"next minute starts over", rateBucket{100, 61}, 101, rateBucket{101, 1}},
		{"a later minute starts over", rateBucket{100, 5}, 200, rateBucket{200, 1}},
		{"a clock stepping back starts over", rateBucket{100, 5}, 99, rateBucket{99, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.charge(tc.minute); got != tc.want {
				t.Errorf("%+v.charge(%d) = %+v, want %+v", tc.b, tc.minute, got, tc.want)
			}
		})
	}
}

func TestThrottleDecisions(t *testing.T) {
	cases := []struct {
		name           string
		count, allowed int
		rate, conc     bool
	}{
		{"below the limit", 59, 60, true, true},
		{"at the limit: the rate count includes this request, the concurrent count does not", 60, 60, true, false},
		{"over the limit", 61, 60, false, false},
		{"limit 0 blocks", 1, 0, false, false},
		{"limit 0 blocks with nothing in flight", 0, 0, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rateOK(tc.count, tc.allowed); got != tc.rate {
				t.Errorf("rateOK(%d, %d) = %v", tc.count, tc.allowed, got)
			}
			if got := concurrentOK(tc.count, tc.allowed); got != tc.conc {
				t.Errorf("concurrentOK(%d, %d) = %v", tc.count, tc.allowed, got)
			}
		})
	}
}

func TestIndividualLimit(t *testing.T) {
	cases := []struct {
		name                 string
		limit, cluster, want int
	}{
		{"one controller enforces the limit", 60, 1, 60},
		{"cluster size 0 is one controller", 60, 0, 60},
		{"two controllers: ceil(60*1.2)/2", 60, 2, 36},
		{"three controllers: ceil(60*1.2)/3", 60, 3, 24},
		{"dilation rounds up: ceil(3*1.2)=4, /2", 3, 2, 2},
		{"division rounds down: ceil(5*1.2)=6, /4", 5, 4, 1},
		{"ceil(7*1.2)=9, /2", 7, 2, 4},
		{"never below 1", 1, 5, 1},
		{"0 still blocks in a cluster", 0, 3, 0},
		{"0 blocks on one controller", 0, 1, 0},
		{"large limits", 100_000_000, 4, 30_000_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := individualLimit(tc.limit, tc.cluster); got != tc.want {
				t.Errorf("individualLimit(%d, %d) = %d, want %d", tc.limit, tc.cluster, got, tc.want)
			}
		})
	}
}

func TestThrottleMessages(t *testing.T) {
	cases := []struct {
		name, got, want string
	}{
		{"per minute", tooManyRequests(61, 60), "Too many requests in the last minute (count: 61, allowed: 60)."},
		{"concurrent", tooManyConcurrentRequests(30, 30), "Too many concurrent requests in flight (count: 30, allowed: 30)."},
		{"blocked per minute", tooManyRequests(1, 0), "Too many requests in the last minute (count: 1, allowed: 0)."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// manualClock is a clock that moves only when told.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

// newManualClock starts at the first millisecond of a calendar minute.
func newManualClock() *manualClock {
	return &manualClock{now: time.UnixMilli(epochMinute(time.Now().UnixMilli()) * minuteMillis)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingInFlight is an InFlightCounter with set counts.
type countingInFlight struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingInFlight) set(key string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key] = n
}

func (c *countingInFlight) NamespaceInFlight(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func testLimits(perMinute, concurrent, fires int) entity.SystemLimits {
	l := entity.DefaultSystemLimits()
	l.InvocationsPerMinute, l.ConcurrentInvocations, l.FiresPerMinute = perMinute, concurrent, fires
	return l
}

var (
	guestIdentity = entity.NewIdentity("guest", entity.NamespaceKey{Name: "guest", UUID: entity.GuestUUID, Key: entity.GuestKey}, entity.UserLimits{})
	aliceIdentity = entity.NewIdentity(aliceNS, entity.NamespaceKey{Name: aliceNS, UUID: aliceUUID, Key: aliceKey}, entity.UserLimits{})
)

// wantThrottled fails unless err is ErrThrottled with message msg (or is
// nil when msg is "").
func wantThrottled(t *testing.T, what string, err error, msg string) {
	t.Helper()
	switch {
	case msg == "" && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case msg != "" && (!errors.Is(err, entity.ErrThrottled) || err.Error() != msg):
		t.Fatalf("%s: %v, want ErrThrottled %q", what, err, msg)
	}
}

func TestThrottlerInvocationsPerMinute(t *testing.T) {
	clock := newManualClock()
	th := NewThrottler(ThrottlerConfig{Limits: testLimits(60, 30, 60), Now: clock.Now})
	for range 60 {
		wantThrottled(t, "invoke", th.CheckInvoke(guestIdentity), "")
		clock.Advance(time.Second / 2) // 30 s in all: still the same minute
	}
	wantThrottled(t, "61st invoke", th.CheckInvoke(guestIdentity), "Too many requests in the last minute (count: 61, allowed: 60).")
	wantThrottled(t, "refused invokes count too", th.CheckInvoke(guestIdentity), "Too many requests in the last minute (count: 62, allowed: 60).")
	wantThrottled(t, "another namespace", th.CheckInvoke(aliceIdentity), "")
	wantThrottled(t, "fires are counted apart", th.CheckFire(guestIdentity), "")

	// A calendar minute, not a sliding window: the count starts over at
	// the next minute even though the requests came less than a minute
	// ago.
	clock.Advance(30*time.Second - time.Millisecond)
	wantThrottled(t, "last millisecond of the minute", th.CheckInvoke(guestIdentity), "Too many requests in the last minute (count: 63, allowed: 60).")
	clock.Advance(time.Millisecond)
	wantThrottled(t, "next minute", th.CheckInvoke(guestIdentity), "")

	// The buckets of past minutes are swept.
	th.invokes.mu.Lock()
	n := len(th.invokes.buckets)
	th.invokes.mu.Unlock()
	if n != 1 {
		t.Errorf("%d buckets after the minute changed, want 1 (guest's current)", n)
	}
}

func TestThrottlerConcurrentInvocations(t *testing.T) {
	clock := newManualClock()
	inflight := &countingInFlight{}
	th := NewThrottler(ThrottlerConfig{Limits: testLimits(3, 2, 60), Now: clock.Now, InFlight: inflight})
	key := ThrottleKey(guestIdentity)
	if key != entity.GuestUUID {
		t.Fatalf("ThrottleKey = %q, want the namespace UUID", key)
	}
	inflight.set(key, 1)
	wantThrottled(t, "one in flight of 2", th.CheckInvoke(guestIdentity), "")
	inflight.set(key, 2)
	wantThrottled(t, "two in flight of 2", th.CheckInvoke(guestIdentity), "Too many concurrent requests in flight (count: 2, allowed: 2).")
	wantThrottled(t, "other namespace", th.CheckInvoke(aliceIdentity), "")
	// A request refused for concurrency was counted in its minute (the
	// third request is the last of 3), and the rate is checked first.
	inflight.set(key, 0)
	wantThrottled(t, "third request of the minute", th.CheckInvoke(guestIdentity), "")
	inflight.set(key, 5)
	wantThrottled(t, "rate checked first", th.CheckInvoke(guestIdentity), "Too many requests in the last minute (count: 4, allowed: 3).")
}

func TestThrottlerNamespaceOverridesAndBlocking(t *testing.T) {
	zero, one, big := 0, 1, 1000
	clock := newManualClock()
	inflight := &countingInFlight{}
	inflight.set(aliceUUID, 40)
	th := NewThrottler(ThrottlerConfig{Limits: testLimits(60, 30, 60), Now: clock.Now, InFlight: inflight})
	with := func(u entity.UserLimits) entity.Identity {
		return entity.NewIdentity(aliceNS, entity.NamespaceKey{Name: aliceNS, UUID: aliceUUID, Key: aliceKey}, u)
	}
	wantThrottled(t, "above the system default", th.CheckInvoke(aliceIdentity), "Too many concurrent requests in flight (count: 40, allowed: 30).")
	wantThrottled(t, "override raises the concurrency", th.CheckInvoke(with(entity.UserLimits{ConcurrentInvocations: &big})), "")
	wantThrottled(t, "concurrency 0 blocks", th.CheckInvoke(with(entity.UserLimits{ConcurrentInvocations: &zero, InvocationsPerMinute: &big})),
		"Too many concurrent requests in flight (count: 40, allowed: 0).")
	// alice has made 3 invokes this minute.
	wantThrottled(t, "invocations override", th.CheckInvoke(with(entity.UserLimits{InvocationsPerMinute: &one})),
		"Too many requests in the last minute (count: 4, allowed: 1).")
	wantThrottled(t, "invocations 0 blocks", th.CheckInvoke(with(entity.UserLimits{InvocationsPerMinute: &zero})),
		"Too many requests in the last minute (count: 5, allowed: 0).")
	wantThrottled(t, "fires 0 blocks", th.CheckFire(with(entity.UserLimits{FiresPerMinute: &zero})),
		"Too many requests in the last minute (count: 1, allowed: 0).")
	wantThrottled(t, "fires override", th.CheckFire(with(entity.UserLimits{FiresPerMinute: &one})),
		"Too many requests in the last minute (count: 2, allowed: 1).")
}

func TestThrottlerCluster(t *testing.T) {
	clock := newManualClock()
	inflight := &countingInFlight{}
	// 3 controllers: invocations ceil(10*1.2)/3 = 4, concurrency
	// ceil(5*1.2)/3 = 2, fires ceil(1*1.2)/3 -> 1.
	th := NewThrottler(ThrottlerConfig{Limits: testLimits(10, 5, 1), ClusterSize: 3, Now: clock.Now, InFlight: inflight})
	for range 4 {
		wantThrottled(t, "invoke", th.CheckInvoke(guestIdentity), "")
	}
	wantThrottled(t, "5th invoke", th.CheckInvoke(guestIdentity), "Too many requests in the last minute (count: 5, allowed: 4).")
	inflight.set(aliceUUID, 2)
	wantThrottled(t, "concurrency share", th.CheckInvoke(aliceIdentity), "Too many concurrent requests in flight (count: 2, allowed: 2).")
	wantThrottled(t, "fire", th.CheckFire(guestIdentity), "")
	wantThrottled(t, "2nd fire", th.CheckFire(guestIdentity), "Too many requests in the last minute (count: 2, allowed: 1).")
}

// throttledActivator is the fake activator with set in-flight counts.
type throttledActivator struct {
	*fakeActivator
	countingInFlight
}

func putThrottleAction(t *testing.T, ts *testServer, name string, auth ...string) {
	t.Helper()
	ts.do(http.MethodPut, "/api/v1/namespaces/_/actions/"+name, `{"exec":{"kind":"nodejs:20","code":"function main(){}"}}`, auth...).wantStatus(http.StatusOK)
}

// wantTooMany checks a 429 in OpenWhisk's error shape.
func wantTooMany(t *testing.T, r response, msg string) {
	t.Helper()
	r.wantStatus(http.StatusTooManyRequests)
	if got := r.ErrMsg(); got != msg {
		t.Fatalf("error %q, want %q", got, msg)
	}
	if code, _ := r.Obj()["code"].(string); code == "" || code != r.Header.Get(headerRequestID) {
		t.Fatalf("code %q, X-Request-ID %q", code, r.Header.Get(headerRequestID))
	}
}

func TestInvokeThrottledOverHTTP(t *testing.T) {
	clock := newManualClock()
	act := &throttledActivator{fakeActivator: &fakeActivator{}}
	ts := newTestServer(t, withFake(act.fakeActivator), func(c *Config) {
		c.Activator = act
		c.Now = clock.Now
		c.Limits = testLimits(3, 2, 60)
	})
	putThrottleAction(t, ts, "ok-a")
	putThrottleAction(t, ts, "ok-a", aliceAuth)
	const invoke = "/api/v1/namespaces/_/actions/ok-a"

	ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/bad%20name!", "").wantStatus(http.StatusBadRequest)
	ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/ok-a/too/deep", "").wantStatus(http.StatusNotFound)
	for i := range 3 {
		if r := ts.do(http.MethodPost, invoke, ""); r.Status != http.StatusAccepted {
			t.Fatalf("invoke %d (malformed paths are not counted): %d %s", i+1, r.Status, r.Body)
		}
	}
	wantTooMany(t, ts.do(http.MethodPost, invoke, ""), "Too many requests in the last minute (count: 4, allowed: 3).")
	// The throttle comes before the action is looked up, as OpenWhisk's
	// entitlement check.
	wantTooMany(t, ts.do(http.MethodPost, "/api/v1/namespaces/_/actions/missing", ""), "Too many requests in the last minute (count: 5, allowed: 3).")
	if n := len(act.requests()); n != 3 {
		t.Fatalf("activator got %d requests, want 3", n)
	}
	// Other routes and other namespaces are not throttled.
	ts.do(http.MethodGet, invoke, "").wantStatus(http.StatusOK)
	ts.do(http.MethodPost, invoke, "", aliceAuth).wantStatus(http.StatusAccepted)

	act.set(aliceUUID, 2)
	wantTooMany(t, ts.do(http.MethodPost, invoke, "", aliceAuth), "Too many concurrent requests in flight (count: 2, allowed: 2).")

	clock.Advance(time.Minute)
	ts.do(http.MethodPost, invoke, "").wantStatus(http.StatusAccepted)

	// A namespace limits doc overrides the system default (and 0 blocks).
	zero := 0
	if err := ts.Stores.Subjects.PutLimits(context.Background(), "guest", entity.UserLimits{InvocationsPerMinute: &zero}); err != nil {
		t.Fatal(err)
	}
	ts.Server.ids = newIdentityCache(identityCacheSize, identityCacheTTL, clock.Now) // forget the cached identity
	wantTooMany(t, ts.do(http.MethodPost, invoke, ""), "Too many requests in the last minute (count: 2, allowed: 0).")
}

func TestFireThrottledOverHTTP(t *testing.T) {
	clock := newManualClock()
	fake := &fakeActivator{}
	ts := newTestServer(t, withFake(fake), func(c *Config) {
		c.Now = clock.Now
		c.Limits = testLimits(1, 30, 2)
	})
	putThrottleAction(t, ts, "ok-a")
	putThrottleAction(t, ts, "ok-b")
	putOK(t, ts, triggersPath+"quiet", `{}`)
	putOK(t, ts, triggersPath+"t", `{}`)
	putOK(t, ts, "/api/v1/namespaces/_/rules/r1", `{"trigger":"t","action":"ok-a"}`)
	putOK(t, ts, "/api/v1/namespaces/_/rules/r2", `{"trigger":"t","action":"ok-b"}`)

	// A fire without active rules counts too.
	ts.do(http.MethodPost, triggersPath+"quiet", "").wantStatus(http.StatusNoContent)
	// The fire's two rule invocations are invokes of guest (OpenWhisk posts
	// them to its own invoke route): one passes invocationsPerMinute 1,
	// the other is refused and logged as an application error.
	r := ts.do(http.MethodPost, triggersPath+"t", "").wantStatus(http.StatusAccepted)
	id, _ := r.Obj()["activationId"].(string)
	rec := waitActivation(t, ts, "guest", id)
	if len(rec.Logs) != 2 {
		t.Fatalf("logs %q", rec.Logs)
	}
	var lines [2]ruleResult
	for i, l := range rec.Logs {
		if err := json.Unmarshal([]byte(l), &lines[i]); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
	}
	ok, refused := lines[0], lines[1] // rules run in name order
	if !ok.Success || ok.ActivationID == "" {
		t.Errorf("first rule: %+v", ok)
	}
	if refused.Success || refused.StatusCode != entity.StatusApplicationError || refused.Error != "Too many requests in the last minute (count: 2, allowed: 1)." {
		t.Errorf("second rule: %+v", refused)
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("activator got %d requests, want 1", n)
	}

	wantTooMany(t, ts.do(http.MethodPost, triggersPath+"t", ""), "Too many requests in the last minute (count: 3, allowed: 2).")
	wantTooMany(t, ts.do(http.MethodPost, triggersPath+"missing", ""), "Too many requests in the last minute (count: 4, allowed: 2).")
	ts.do(http.MethodPost, triggersPath+"bad%20name!", "").wantStatus(http.StatusBadRequest)
	// Trigger CRUD is not throttled.
	ts.do(http.MethodGet, triggersPath+"t", "").wantStatus(http.StatusOK)
}
