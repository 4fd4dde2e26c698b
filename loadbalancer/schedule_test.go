package loadbalancer

import (
	"math"
	"reflect"
	"testing"
)

func TestPartition(t *testing.T) {
	tests := []struct {
		name               string
		n                  int
		managed, blackbox  float64
		wantMgd, wantBlack int
	}{
		{"no invokers", 0, 0.9, 0.1, 0, 0},
		{"negative count", -3, 0.9, 0.1, 0, 0},
		{"one invoker overlaps", 1, 0.9, 0.1, 1, 1},
		{"two invokers", 2, 0.9, 0.1, 2, 1},
		{"ten invokers", 10, 0.9, 0.1, 9, 1},
		{"eleven invokers", 11, 0.9, 0.1, 10, 1},
		{"twenty invokers", 20, 0.9, 0.1, 18, 2},
		{"float noise does not round up", 10, 0.3, 0.7, 3, 7},
		{"blackbox raised to 1-managed", 10, 0.5, 0.1, 5, 5},
		{"managed clamped to 1", 4, 1.5, 0.1, 4, 1},
		{"managed clamped to 0 still takes one", 4, -1, 0.1, 1, 4},
		{"blackbox clamped to 1", 4, 0.9, 3, 4, 4},
		{"NaN managed", 4, math.NaN(), 0.1, 1, 4},
		{"NaN blackbox", 10, 0.9, math.NaN(), 9, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, b := partition(tt.n, tt.managed, tt.blackbox)
			if m != tt.wantMgd || b != tt.wantBlack {
				t.Fatalf("partition(%d, %v, %v) = %d, %d; want %d, %d", tt.n, tt.managed, tt.blackbox, m, b, tt.wantMgd, tt.wantBlack)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want []int
	}{
		{"zero", 0, []int{1}},
		{"negative", -5, []int{1}},
		{"one", 1, []int{1}},
		{"two", 2, []int{1}},
		{"three", 3, []int{1, 2}},
		{"four", 4, []int{1, 3}},
		{"five", 5, []int{1, 2, 3}},
		{"six", 6, []int{1, 5}},
		{"ten (reference example)", 10, []int{1, 3, 7}},
		{"twelve", 12, []int{1, 5, 7, 11}},
		{"thirteen (prime)", 13, []int{1, 2, 3, 5, 7, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := steps(tt.n)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("steps(%d) = %v, want %v", tt.n, got, tt.want)
			}
			for i, a := range got {
				if tt.n > 0 && gcd(a, tt.n) != 1 {
					t.Errorf("step %d not coprime to %d", a, tt.n)
				}
				for _, b := range got[i+1:] {
					if gcd(a, b) != 1 {
						t.Errorf("steps %d and %d not coprime", a, b)
					}
				}
			}
		})
	}
}

func TestHome(t *testing.T) {
	tests := []struct {
		name string
		hash uint32
		n    int
		want int
	}{
		{"no invokers", 7, 0, 0},
		{"one invoker", 12345, 1, 0},
		{"hash below n", 3, 10, 3},
		{"hash above n", 27, 10, 7},
		{"largest hash", math.MaxUint32, 10, 5},
		{"abs of MinInt32", 1 << 31, 10, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := home(tt.hash, tt.n); got != tt.want {
				t.Fatalf("home(%d, %d) = %d, want %d", tt.hash, tt.n, got, tt.want)
			}
		})
	}
}

func TestStepFor(t *testing.T) {
	ten := steps(10) // 1, 3, 7
	tests := []struct {
		name  string
		hash  uint32
		steps []int
		want  int
	}{
		{"no steps", 5, nil, 1},
		{"index 0", 3, ten, 1},
		{"index 1", 4, ten, 3},
		{"index 2", 5, ten, 7},
		{"largest hash", math.MaxUint32, ten, 1},
		{"abs of MinInt32", 1 << 31, ten, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stepFor(tt.hash, tt.steps); got != tt.want {
				t.Fatalf("stepFor(%d, %v) = %d, want %d", tt.hash, tt.steps, got, tt.want)
			}
		})
	}
}

func TestJavaHashCode(t *testing.T) {
	// Values of java.lang.String.hashCode.
	tests := []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"guest", 98708952},
		{"guest/hello", 86723035},
		{"whisk.system", -1796040243},
		{"héllo", 103094734},
		{"😀x", 54959989}, // a surrogate pair
		{"polygenelubricants", math.MinInt32},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			if got := javaHashCode(tt.s); got != tt.want {
				t.Fatalf("javaHashCode(%q) = %d, want %d", tt.s, got, tt.want)
			}
		})
	}
}

func TestActionHash(t *testing.T) {
	tests := []struct {
		name    string
		ns, fqn string
		want    uint32
	}{
		{"action in own namespace", "guest", "guest/hello", 13198339},
		{"packaged action", "guest", "guest/pkg/hello", 753903232},
		{"other caller", "alice", "bob/pkg/a", 1712212612},
		{"MinInt32 is not negative", "", "polygenelubricants", 1 << 31},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := actionHash(tt.ns, tt.fqn); got != tt.want {
				t.Fatalf("actionHash(%q, %q) = %d, want %d", tt.ns, tt.fqn, got, tt.want)
			}
		})
	}
}

// slotsWith returns n semaphores of permits MB, with used[i] MB taken.
func slotsWith(permits int, used ...int) []*nestedSemaphore {
	out := make([]*nestedSemaphore, len(used))
	for i, u := range used {
		out[i] = newNestedSemaphore(permits)
		out[i].used = u
	}
	return out
}

func healthySet(n int, unusable ...int) []invokerState {
	set := make([]invokerState, n)
	for i := range set {
		set[i] = invokerState{id: i, usable: true}
	}
	for _, u := range unusable {
		set[u].usable = false
	}
	return set
}

func TestSchedule(t *testing.T) {
	last := func(n int) int { return n - 1 }
	tests := []struct {
		name       string
		set        []invokerState
		slots      []*nestedSemaphore
		home, step int
		memMB      int
		randn      func(int) int
		wantID     int
		wantForced bool
		wantOK     bool
		wantUsed   []int // used MB per invoker afterwards
	}{
		{"empty set", nil, nil, 0, 1, 256, last, 0, false, false, nil},
		{"home has room", healthySet(4), slotsWith(512, 0, 0, 0, 0), 2, 3, 256, last, 2, false, true, []int{0, 0, 256, 0}},
		{"home full: next by step", healthySet(4), slotsWith(512, 0, 0, 512, 0), 2, 3, 256, last, 1, false, true, []int{0, 256, 512, 0}},
		{"home unhealthy: next by step", healthySet(4, 2), slotsWith(512, 0, 0, 0, 0), 2, 3, 256, last, 1, false, true, []int{0, 256, 0, 0}},
		{"step wraps around", healthySet(5), slotsWith(256, 256, 256, 256, 256, 0), 1, 2, 256, last, 4, false, true, []int{256, 256, 256, 256, 256}},
		{"partial room is not enough", healthySet(2), slotsWith(512, 300, 0), 0, 1, 256, last, 1, false, true, []int{300, 256}},
		{"home out of range is reduced", healthySet(3), slotsWith(512, 0, 0, 0), 7, 1, 128, last, 1, false, true, []int{0, 128, 0}},
		{"negative home", healthySet(3), slotsWith(512, 0, 0, 0), -1, 1, 128, last, 2, false, true, []int{0, 0, 128}},
		{"zero step is one", healthySet(3), slotsWith(512, 0, 512, 0), 1, 0, 128, last, 2, false, true, []int{0, 512, 128}},
		{"all full: forced on random healthy", healthySet(3, 1), slotsWith(256, 256, 256, 256), 0, 1, 256, last, 2, true, true, []int{256, 256, 512}},
		{"all full: random picks first", healthySet(3), slotsWith(256, 256, 256, 256), 0, 1, 256, func(int) int { return 0 }, 0, true, true, []int{512, 256, 256}},
		{"bad random falls back to first healthy", healthySet(3, 0), slotsWith(256, 256, 256, 256), 0, 1, 256, func(int) int { return 99 }, 1, true, true, []int{256, 512, 256}},
		{"action larger than any invoker", healthySet(2), slotsWith(128, 0, 0), 0, 1, 256, last, 1, true, true, []int{0, 256}},
		{"none healthy", healthySet(3, 0, 1, 2), slotsWith(512, 0, 0, 0), 0, 1, 128, last, 0, false, false, []int{0, 0, 0}},
		{"only unhealthy have room", healthySet(2, 1), slotsWith(256, 256, 0), 0, 1, 256, func(int) int { t.Fatal("random with one healthy"); return 0 }, 0, true, true, []int{512, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, forced, ok := schedule(tt.set, tt.slots, tt.home, tt.step, "guest/a@0.0.1", tt.memMB, 1, tt.randn)
			if ok != tt.wantOK || (ok && (id != tt.wantID || forced != tt.wantForced)) {
				t.Fatalf("schedule = %d, forced %v, ok %v; want %d, %v, %v", id, forced, ok, tt.wantID, tt.wantForced, tt.wantOK)
			}
			if tt.wantUsed == nil {
				return
			}
			for i, s := range tt.slots {
				if s.used != tt.wantUsed[i] {
					t.Errorf("invoker %d uses %d MB, want %d", i, s.used, tt.wantUsed[i])
				}
			}
		})
	}
}

// TestScheduleSubset checks that ids, not positions, index the slots: the
// blackbox set is the tail of the invoker list.
func TestScheduleSubset(t *testing.T) {
	slots := slotsWith(256, 0, 0, 0, 256)
	set := []invokerState{{id: 2, usable: true}, {id: 3, usable: true}}
	id, forced, ok := schedule(set, slots, 1, 1, "k", 256, 1, rand0)
	if !ok || forced || id != 2 || slots[2].used != 256 || slots[3].used != 256 {
		t.Fatalf("got %d forced %v ok %v; used %d %d", id, forced, ok, slots[2].used, slots[3].used)
	}
}

func rand0(int) int { return 0 }

// TestScheduleConcurrentAction checks that a concurrent action fills its
// container's slots on the home invoker before taking memory elsewhere.
func TestScheduleConcurrentAction(t *testing.T) {
	slots := slotsWith(256, 0, 0)
	set := healthySet(2)
	var got []int
	for range 5 {
		id, _, ok := schedule(set, slots, 0, 1, "guest/c@0.0.1", 256, 2, rand0)
		if !ok {
			t.Fatal("not scheduled")
		}
		got = append(got, id)
	}
	// Invoker 0: one container, 2 slots; invoker 1: the same; then forced.
	if want := []int{0, 0, 1, 1, 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements %v, want %v", got, want)
	}
	if slots[0].used != 512 || slots[1].used != 256 {
		t.Fatalf("used %d, %d", slots[0].used, slots[1].used)
	}
}
