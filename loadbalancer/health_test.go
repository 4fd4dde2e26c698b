package loadbalancer

import (
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

var testTimings = healthTimings{healthyTimeout: 10 * time.Second, testInterval: time.Minute}

// withResults returns a health in state s whose buffer holds rs (oldest
// first), last pinged at t0, next test due a minute after t0.
func withResults(s healthState, rs ...result) invokerHealth {
	h := invokerHealth{state: s, lastPing: t0, nextTest: t0.Add(time.Minute)}
	for _, r := range rs {
		h.results.add(r)
	}
	return h
}

func repeat(r result, n int) []result {
	out := make([]result, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func concat(rss ...[]result) []result {
	var out []result
	for _, rs := range rss {
		out = append(out, rs...)
	}
	return out
}

const (
	S = resultSuccess
	E = resultSystemError
	T = resultTimeout
)

func ping(at time.Duration) healthEvent {
	return healthEvent{kind: eventPing, enabled: true, now: t0.Add(at)}
}
func disabledPing(at time.Duration) healthEvent {
	return healthEvent{kind: eventPing, enabled: false, now: t0.Add(at)}
}
func tick(at time.Duration) healthEvent { return healthEvent{kind: eventTick, now: t0.Add(at)} }
func res(r result) healthEvent {
	return healthEvent{kind: eventResult, result: r, now: t0.Add(time.Second)}
}

func TestTransition(t *testing.T) {
	tests := []struct {
		name      string
		from      invokerHealth
		ev        healthEvent
		want      healthState
		wantTest  bool
		wantPing  time.Duration // expected lastPing - t0 (-1 = don't check)
		wantNext  time.Duration // expected nextTest - t0 (-1 = don't check)
		wantCount int           // expected results held (-1 = don't check)
	}{
		// Pings.
		{"new invoker pings: unhealthy, test", invokerHealth{}, ping(0), stateUnhealthy, true, 0, time.Minute, 0},
		{"offline pings: unhealthy, test", withResults(stateOffline, E, E, E, E), ping(30 * time.Second), stateUnhealthy, true, 30 * time.Second, 90 * time.Second, 4},
		{"offline disabled ping stays", withResults(stateOffline), disabledPing(time.Second), stateOffline, false, 0, -1, -1},
		{"healthy ping stays, refreshes", withResults(stateHealthy), ping(5 * time.Second), stateHealthy, false, 5 * time.Second, -1, -1},
		{"unhealthy ping stays, no test", withResults(stateUnhealthy), ping(5 * time.Second), stateUnhealthy, false, 5 * time.Second, time.Minute, -1},
		{"unresponsive ping stays", withResults(stateUnresponsive), ping(5 * time.Second), stateUnresponsive, false, 5 * time.Second, -1, -1},
		{"healthy disabled ping: offline", withResults(stateHealthy), disabledPing(time.Second), stateOffline, false, 0, -1, -1},
		{"unhealthy disabled ping: offline", withResults(stateUnhealthy), disabledPing(time.Second), stateOffline, false, 0, -1, -1},

		// Results while few are buffered: the latest decides.
		{"first success: healthy, test again", withResults(stateUnhealthy), res(S), stateHealthy, true, -1, -1, 1},
		{"first system error stays unhealthy", withResults(stateUnhealthy), res(E), stateUnhealthy, false, -1, -1, 1},
		{"first timeout: unresponsive, test", withResults(stateUnhealthy), res(T), stateUnresponsive, true, -1, 61 * time.Second, 1},
		{"error after one success: unhealthy", withResults(stateHealthy, E, S), res(E), stateUnhealthy, true, -1, 61 * time.Second, 3},
		{"timeout after successes: unresponsive", withResults(stateHealthy, S, S), res(T), stateUnresponsive, true, -1, -1, 3},
		{"success after error early: healthy", withResults(stateUnhealthy, E), res(S), stateHealthy, true, -1, -1, 2},

		// Results with a fuller buffer: more than 3 of a kind.
		{"healthy success stays", withResults(stateHealthy, concat(repeat(E, 3), repeat(S, 6))...), res(S), stateHealthy, false, -1, -1, 10},
		{"healthy stays at 3 errors", withResults(stateHealthy, concat(repeat(S, 5), repeat(E, 2))...), res(E), stateHealthy, false, -1, -1, 8},
		{"4th error: unhealthy", withResults(stateHealthy, concat(repeat(S, 5), repeat(E, 3))...), res(E), stateUnhealthy, true, -1, 61 * time.Second, 9},
		{"4th timeout: unresponsive", withResults(stateHealthy, concat(repeat(S, 5), repeat(T, 3))...), res(T), stateUnresponsive, true, -1, -1, 9},
		{"errors win over timeouts", withResults(stateHealthy, concat(repeat(T, 4), repeat(E, 3))...), res(E), stateUnhealthy, true, -1, -1, 8},
		{"mixed errors below both thresholds", withResults(stateHealthy, concat(repeat(T, 3), repeat(E, 2), repeat(S, 2))...), res(E), stateHealthy, false, -1, -1, 8},
		{"unhealthy success still above threshold", withResults(stateUnhealthy, concat(repeat(E, 4), repeat(S, 5))...), res(S), stateUnhealthy, true, -1, time.Minute, 10},
		{"unhealthy recovers when 4th error leaves the ring", withResults(stateUnhealthy, concat(repeat(E, 4), repeat(S, 6))...), res(S), stateHealthy, true, -1, -1, 10},
		{"unresponsive success no test", withResults(stateUnresponsive, concat(repeat(T, 4), repeat(S, 5))...), res(S), stateUnresponsive, false, -1, time.Minute, 10},
		{"unresponsive recovers", withResults(stateUnresponsive, concat(repeat(T, 4), repeat(S, 6))...), res(S), stateHealthy, false, -1, -1, 10},
		{"unresponsive to unhealthy tests", withResults(stateUnresponsive, concat(repeat(T, 4), repeat(E, 3))...), res(E), stateUnhealthy, true, -1, 61 * time.Second, 8},
		{"unhealthy more errors stays, no test", withResults(stateUnhealthy, repeat(E, 5)...), res(E), stateUnhealthy, false, -1, time.Minute, 6},
		{"offline records but stays", withResults(stateOffline, S, S, S, S), res(E), stateOffline, false, -1, -1, 5},
		{"offline success stays", withResults(stateOffline), res(S), stateOffline, false, -1, -1, 1},
		{"invalid result ignored", withResults(stateHealthy, S), healthEvent{kind: eventResult, now: t0}, stateHealthy, false, -1, -1, 1},

		// Ticks.
		{"healthy recent ping stays", withResults(stateHealthy), tick(9 * time.Second), stateHealthy, false, 0, -1, -1},
		{"healthy silent 10 s: offline", withResults(stateHealthy), tick(10 * time.Second), stateOffline, false, 0, -1, -1},
		{"unhealthy silent: offline, no test", withResults(stateUnhealthy), tick(11 * time.Second), stateOffline, false, 0, -1, -1},
		{"unresponsive silent: offline", withResults(stateUnresponsive), tick(time.Hour), stateOffline, false, 0, -1, -1},
		{"offline tick stays", withResults(stateOffline), tick(time.Hour), stateOffline, false, 0, -1, -1},
		{"unhealthy test not yet due", freshPing(stateUnhealthy, 55*time.Second), tick(59 * time.Second), stateUnhealthy, false, -1, time.Minute, -1},
		{"unhealthy test due after a minute", freshPing(stateUnhealthy, 55*time.Second), tick(time.Minute), stateUnhealthy, true, -1, 2 * time.Minute, -1},
		{"unresponsive test due", freshPing(stateUnresponsive, 65*time.Second), tick(70 * time.Second), stateUnresponsive, true, -1, 130 * time.Second, -1},
		{"healthy has no test timer", freshPing(stateHealthy, 65*time.Second), tick(70 * time.Second), stateHealthy, false, -1, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, test := transition(tt.from, tt.ev, testTimings)
			if got.state != tt.want || test != tt.wantTest {
				t.Fatalf("transition → %v, test %v; want %v, test %v", got.state, test, tt.want, tt.wantTest)
			}
			if tt.wantPing >= 0 && !got.lastPing.Equal(t0.Add(tt.wantPing)) {
				t.Errorf("lastPing %v, want t0+%v", got.lastPing.Sub(t0), tt.wantPing)
			}
			if tt.wantNext >= 0 && !got.nextTest.Equal(t0.Add(tt.wantNext)) {
				t.Errorf("nextTest t0+%v, want t0+%v", got.nextTest.Sub(t0), tt.wantNext)
			}
			if tt.wantCount >= 0 && got.results.n != tt.wantCount {
				t.Errorf("%d results held, want %d", got.results.n, tt.wantCount)
			}
		})
	}
}

// freshPing is a health in state s last pinged at t0+at.
func freshPing(s healthState, at time.Duration) invokerHealth {
	h := withResults(s)
	h.lastPing = t0.Add(at)
	return h
}

func TestResultRing(t *testing.T) {
	var r resultRing
	for range 12 {
		r.add(E)
	}
	if r.n != resultBufferSize || r.count(E) != resultBufferSize {
		t.Fatalf("held %d, errors %d", r.n, r.count(E))
	}
	for i := range 7 {
		r.add(S)
		if want := resultBufferSize - i - 1; r.count(E) != want {
			t.Fatalf("after %d successes: %d errors, want %d", i+1, r.count(E), want)
		}
	}
	if r.count(S) != 7 || r.count(T) != 0 {
		t.Fatalf("successes %d, timeouts %d", r.count(S), r.count(T))
	}
}

func TestHealthStateStrings(t *testing.T) {
	tests := []struct {
		s      healthState
		want   string
		usable bool
	}{
		{stateOffline, "down", false},
		{stateUnhealthy, "unhealthy", false},
		{stateUnresponsive, "unresponsive", false},
		{stateHealthy, "up", true},
		{healthState(42), "down", false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.s.String() != tt.want || tt.s.usable() != tt.usable {
				t.Fatalf("%d: %q usable %v", tt.s, tt.s.String(), tt.s.usable())
			}
		})
	}
}

func TestPingExpired(t *testing.T) {
	tests := []struct {
		name string
		age  time.Duration
		want bool
	}{
		{"fresh", 0, false},
		{"just below", 10*time.Second - time.Nanosecond, false},
		{"at the timeout", 10 * time.Second, true},
		{"long gone", time.Hour, true},
		{"clock went back", -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pingExpired(t0, t0.Add(tt.age), 10*time.Second); got != tt.want {
				t.Fatalf("pingExpired(age %v) = %v", tt.age, got)
			}
		})
	}
}

// TestHealthSequence replays OpenWhisk's InvokerActor scenarios through
// transition.
func TestHealthSequence(t *testing.T) {
	h, _ := transition(invokerHealth{}, ping(0), testTimings)
	step := func(r result, want healthState) {
		t.Helper()
		h, _ = transition(h, res(r), testTimings)
		if h.state != want {
			t.Fatalf("after %v: %v, want %v", r, h.state, want)
		}
	}
	// "start and stay unhealthy while min threshold is not met"
	for range 4 {
		step(E, stateUnhealthy)
	}
	for range 6 {
		step(S, stateUnhealthy)
	}
	step(S, stateHealthy)
	// Fill with timeouts: unresponsive on the 4th.
	step(T, stateHealthy)
	step(T, stateHealthy)
	step(T, stateHealthy)
	step(T, stateUnresponsive)
	// Seven successes push the first timeout out of the ring.
	for range 6 {
		step(S, stateUnresponsive)
	}
	step(S, stateHealthy)
}
