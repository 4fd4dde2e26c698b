package loadbalancer

import "time"

// Invoker health (OpenWhisk's InvokerSupervision, reference §5.3) as a pure
// state machine: transition(health, event) → health, plus whether to
// invoke the health test action now. The shell (sharding.go) feeds it
// pings, activation results and clock ticks.

// Health protocol defaults.
const (
	// DefaultHealthyTimeout is how long an invoker may stay silent before
	// it is Offline ("down"): OpenWhisk's healthyTimeout.
	DefaultHealthyTimeout = 10 * time.Second
	// DefaultHealthActionInterval is how often the health test action is
	// invoked on an Unhealthy or Unresponsive invoker.
	DefaultHealthActionInterval = time.Minute
	// DefaultHealthCheckInterval is how often the shell checks ping ages
	// and the health action timer (the invokers ping every second).
	DefaultHealthCheckInterval = time.Second
)

// Ring buffer of activation results: the last resultBufferSize results,
// of which more than resultErrorTolerance errors of one kind make an
// invoker Unhealthy or Unresponsive.
const (
	resultBufferSize     = 10
	resultErrorTolerance = 3
)

// healthState is an invoker's state.
type healthState int

const (
	stateOffline      healthState = iota // "down": no ping for the healthy timeout, or disabled
	stateUnhealthy                       // "unhealthy": system errors, or just registered
	stateUnresponsive                    // "unresponsive": forced completions
	stateHealthy                         // "up": usable
)

// String is the state as GET /invokers shows it (OpenWhisk's asString).
func (s healthState) String() string {
	switch s {
	case stateUnhealthy:
		return "unhealthy"
	case stateUnresponsive:
		return "unresponsive"
	case stateHealthy:
		return "up"
	}
	return "down"
}

// usable reports whether work may be scheduled on an invoker in state s.
func (s healthState) usable() bool { return s == stateHealthy }

// testing reports whether the health test action is invoked on an invoker
// in state s.
func (s healthState) testing() bool { return s == stateUnhealthy || s == stateUnresponsive }

// result is how an activation ended, as the health machine counts it
// (OpenWhisk's InvocationFinishedResult).
type result int

const (
	resultSuccess     result = iota + 1 // completion ack without system error
	resultSystemError                   // completion ack with isSystemError
	resultTimeout                       // forced completion: no ack in time
)

func (r result) String() string {
	switch r {
	case resultSuccess:
		return "success"
	case resultSystemError:
		return "systemError"
	case resultTimeout:
		return "timeout"
	}
	return "invalid"
}

// resultRing holds the last resultBufferSize results.
type resultRing struct {
	buf  [resultBufferSize]result
	n    int // how many are held (<= resultBufferSize)
	next int // where the next one goes
}

func (r *resultRing) add(x result) {
	r.buf[r.next] = x
	r.next = (r.next + 1) % resultBufferSize
	if r.n < resultBufferSize {
		r.n++
	}
}

func (r *resultRing) count(x result) int {
	c := 0
	for i := 0; i < r.n; i++ {
		if r.buf[i] == x {
			c++
		}
	}
	return c
}

// judge is the state the results call for: more than resultErrorTolerance
// system errors → Unhealthy, else more than resultErrorTolerance timeouts
// → Unresponsive, else Healthy. While the buffer holds no more than
// resultErrorTolerance results, the latest result alone decides (a single
// system error or timeout marks a fresh invoker unhealthy or unresponsive,
// a success healthy), as OpenWhisk's "revert to unhealthy during initial
// startup" behaviour.
func judge(r *resultRing, latest result) healthState {
	if r.n <= resultErrorTolerance {
		switch latest {
		case resultSystemError:
			return stateUnhealthy
		case resultTimeout:
			return stateUnresponsive
		}
		return stateHealthy
	}
	switch {
	case r.count(resultSystemError) > resultErrorTolerance:
		return stateUnhealthy
	case r.count(resultTimeout) > resultErrorTolerance:
		return stateUnresponsive
	}
	return stateHealthy
}

// invokerHealth is one invoker's health. The zero value is a registered
// invoker that never pinged: Offline.
type invokerHealth struct {
	state    healthState
	results  resultRing
	lastPing time.Time // the last enabled ping
	nextTest time.Time // when the periodic health test action is due (while testing)
}

// healthEventKind tells what happened to an invoker.
type healthEventKind int

const (
	eventPing   healthEventKind = iota + 1 // a PingMessage arrived
	eventResult                            // one of its activations ended
	eventTick                              // the clock advanced (ping age, test timer)
)

// healthEvent is one input of the health machine.
type healthEvent struct {
	kind    healthEventKind
	enabled bool   // eventPing: the ping's isEnabled
	result  result // eventResult
	now     time.Time
}

// healthTimings are the durations of the health protocol.
type healthTimings struct {
	healthyTimeout time.Duration // no ping for this long → Offline
	testInterval   time.Duration // health test action period while testing
}

// pingExpired reports whether an invoker whose last ping was at lastPing
// is offline at now.
func pingExpired(lastPing, now time.Time, timeout time.Duration) bool {
	return now.Sub(lastPing) >= timeout
}

// transition applies ev to h. It returns the new health and whether the
// health test action must be invoked on the invoker now:
//
//   - ping (enabled): Offline → Unhealthy; other states stay. A disabled
//     ping takes any other state to Offline.
//   - result: recorded in the ring buffer. Offline stays Offline, Healthy
//     stays Healthy on a success; otherwise the state becomes what judge
//     says. A success while Unhealthy invokes the test action.
//   - tick: an invoker not Offline whose last ping is healthyTimeout old
//     goes Offline; while Unhealthy or Unresponsive the test action is
//     invoked every testInterval.
//
// Entering Unhealthy or Unresponsive (from another state) invokes the test
// action and starts its periodic timer.
func transition(h invokerHealth, ev healthEvent, t healthTimings) (invokerHealth, bool) {
	test := false
	enter := func(s healthState) {
		if s == h.state {
			return
		}
		h.state = s
		if s.testing() {
			test = true
			h.nextTest = ev.now.Add(t.testInterval)
		}
	}
	switch ev.kind {
	case eventPing:
		if !ev.enabled {
			enter(stateOffline)
			break
		}
		h.lastPing = ev.now
		if h.state == stateOffline {
			enter(stateUnhealthy)
		}
	case eventResult:
		if ev.result < resultSuccess || ev.result > resultTimeout {
			break
		}
		h.results.add(ev.result)
		if ev.result == resultSuccess && h.state == stateUnhealthy {
			test = true
		}
		if h.state == stateOffline || (h.state == stateHealthy && ev.result == resultSuccess) {
			break
		}
		enter(judge(&h.results, ev.result))
	case eventTick:
		if h.state == stateOffline {
			break
		}
		if pingExpired(h.lastPing, ev.now, t.healthyTimeout) {
			enter(stateOffline)
			break
		}
		if h.state.testing() && !ev.now.Before(h.nextTest) {
			test = true
			h.nextTest = ev.now.Add(t.testInterval)
		}
	}
	return h, test
}
