package main

import (
	"math"
	"slices"
	"time"
)

// Summary is the distribution of one scenario's samples.
type Summary struct {
	N      int     `json:"n"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	Mean   float64 `json:"mean_ms"`
	// Rate is successful operations per second of wall time (0 when the
	// scenario measures single events, not a rate).
	Rate float64 `json:"rate_per_s,omitempty"`
}

// summarize computes the distribution of samples (any order) with the
// nearest-rank method: the q-quantile is the smallest sample such that at
// least q of all samples are at or below it. Empty input gives a zero
// Summary.
func summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N:    len(s),
		P50:  ms(s[rank(len(s), 0.50)]),
		P90:  ms(s[rank(len(s), 0.90)]),
		P99:  ms(s[rank(len(s), 0.99)]),
		Max:  ms(s[len(s)-1]),
		Mean: ms(sum / time.Duration(len(s))),
	}
}

// rank is the 0-based index of the nearest-rank q-quantile of n sorted
// samples (n > 0, 0 < q <= 1).
func rank(n int, q float64) int {
	r := int(math.Ceil(q*float64(n))) - 1
	return max(0, min(r, n-1))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratio is a/b, or 0 when either is not a positive number (no floor, or a
// scenario without numbers).
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0
	}
	return a / b
}
