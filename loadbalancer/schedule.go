package loadbalancer

import (
	"math"
	"unicode/utf16"
)

// The scheduling decisions of OpenWhisk's ShardingContainerPoolBalancer
// (reference §5.1) as pure functions: partition the invokers into managed
// and blackbox sets, hash an action to its home invoker and step size,
// probe the set for free memory slots, fall back to a random healthy
// invoker when everything is full.

// Default invoker fractions (whisk.loadbalancer.managed-fraction and
// blackbox-fraction).
const (
	DefaultManagedFraction  = 0.9
	DefaultBlackboxFraction = 0.1
)

// fractionEpsilon absorbs float noise in n×fraction (so that 0.3×10 is 3,
// not 3.0000000000000004 rounded up to 4).
const fractionEpsilon = 1e-9

// partition sizes the two invoker sets of n invokers: managed invokers
// (for runtime kinds) are the first max(1, ceil(n×managedFraction)),
// blackbox invokers (user images) the last max(1, floor(n×blackboxFraction)).
// The sets may overlap (with one invoker both use it). The fractions are
// clamped as OpenWhisk does: managed to [0,1], blackbox to
// [1−managed, 1]. With n <= 0 both are 0.
func partition(n int, managedFraction, blackboxFraction float64) (managed, blackbox int) {
	if n <= 0 {
		return 0, 0
	}
	mf := clamp(managedFraction, 0, 1)
	bf := max(1-mf, min(1, blackboxFraction))
	if math.IsNaN(bf) {
		bf = 1 - mf
	}
	managed = max(1, int(math.Ceil(float64(n)*mf-fractionEpsilon)))
	blackbox = max(1, int(math.Floor(float64(n)*bf+fractionEpsilon)))
	return min(managed, n), min(blackbox, n)
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) {
		return lo
	}
	return max(lo, min(hi, x))
}

// steps lists the step sizes for probing n invokers (OpenWhisk's
// pairwiseCoprimeNumbersUntil): the numbers in 1..n coprime to n and to
// every number chosen before, e.g. 1, 3, 7 for n = 10. At least [1].
func steps(n int) []int {
	var out []int
	for cur := 1; cur <= n; cur++ {
		if gcd(cur, n) != 1 {
			continue
		}
		ok := true
		for _, p := range out {
			if gcd(p, cur) != 1 {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, cur)
		}
	}
	if len(out) == 0 {
		return []int{1}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// home is the index of the home invoker of an action with hash among n
// invokers (0 when n <= 0).
func home(hash uint32, n int) int {
	if n <= 0 {
		return 0
	}
	return int(hash % uint32(n))
}

// stepFor is the probing step of an action with hash among the step sizes.
func stepFor(hash uint32, stepSizes []int) int {
	if len(stepSizes) == 0 {
		return 1
	}
	return stepSizes[hash%uint32(len(stepSizes))]
}

// javaHashCode is Java's String.hashCode (over UTF-16 code units), so that
// actions land on the same invokers as in OpenWhisk.
func javaHashCode(s string) int32 {
	var h int32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			h = 31*h + int32(c)
			continue
		}
		for _, u := range utf16.Encode([]rune(s[i:])) {
			h = 31*h + int32(u)
		}
		break
	}
	return h
}

// actionHash is the scheduling hash of an action invoked by namespace:
// abs(namespace.hashCode ^ fqn.hashCode), fqn being "ns/[pkg/]name"
// without version. Unlike Java's Math.abs, the absolute value of MinInt32
// is 2^31, never negative.
func actionHash(invocationNamespace, fqn string) uint32 {
	h := javaHashCode(invocationNamespace) ^ javaHashCode(fqn)
	if h < 0 {
		return uint32(-int64(h))
	}
	return uint32(h)
}

// invokerState is what scheduling knows about one invoker of a set: its
// instance number (the index of its slots) and whether it is usable.
type invokerState struct {
	id     int
	usable bool
}

// schedule picks an invoker of set for one activation of the action key
// needing memMB with intra-container concurrency maxConcurrent, and takes
// its slot. It probes from index homeIdx by step: the first usable
// invoker whose slots (slots[id]) have room is chosen. After len(set)+1
// steps without success the system is overloaded: a usable invoker chosen
// by randn (uniform in [0, k) over the k usable invokers) is forced to
// take the slot, and forced is true. ok is false, and nothing is taken,
// when set has no usable invoker.
func schedule(set []invokerState, slots []*nestedSemaphore, homeIdx, step int, key string, memMB, maxConcurrent int, randn func(int) int) (id int, forced, ok bool) {
	n := len(set)
	if n == 0 {
		return 0, false, false
	}
	index := ((homeIdx % n) + n) % n
	if step <= 0 {
		step = 1
	}
	for stepsDone := 0; stepsDone <= n+1; stepsDone++ {
		inv := set[index]
		if inv.usable && slots[inv.id].tryAcquire(key, maxConcurrent, memMB) {
			return inv.id, false, true
		}
		index = (index + step) % n
	}
	var usable []int
	for _, inv := range set {
		if inv.usable {
			usable = append(usable, inv.id)
		}
	}
	if len(usable) == 0 {
		return 0, false, false
	}
	pick := usable[0]
	if len(usable) > 1 {
		if r := randn(len(usable)); r > 0 && r < len(usable) {
			pick = usable[r]
		}
	}
	slots[pick].forceAcquire(key, maxConcurrent, memMB)
	return pick, true, true
}
