package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	msd := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted input
	}
	for _, tt := range []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", msd(7), Summary{N: 1, P50: 7, P90: 7, P99: 7, Max: 7, Mean: 7}},
		{"two: p50 is the lower", msd(4, 2), Summary{N: 2, P50: 2, P90: 4, P99: 4, Max: 4, Mean: 3}},
		{"hundred: nearest rank", msd(hundred...), Summary{N: 100, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Fatalf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b float64
		want float64
	}{
		{"plain", 3, 2, 1.5},
		{"no floor", 3, 0, 0},
		{"no numbers", 0, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratio(tt.a, tt.b); got != tt.want {
				t.Fatalf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		row  Row
		want int
	}{
		{"numbers", Row{ID: "1", Summary: Summary{N: 3}}, 0},
		{"skipped with a reason", Row{ID: "8", Skipped: "no broker"}, 0},
		{"no samples", Row{ID: "2"}, 1},
		{"error", Row{ID: "3", Err: "boom", Summary: Summary{N: 1}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := problems([]Row{tt.row}); len(got) != tt.want {
				t.Fatalf("problems = %q, want %d", got, tt.want)
			}
		})
	}
}

func TestStatFields(t *testing.T) {
	// A command name with spaces and parentheses.
	f, err := statFields("1234 (a (b) c) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 1 0")
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "S" || f[1] != "1" || f[11] != "250" || f[12] != "75" {
		t.Fatalf("fields = %q", f)
	}
	if _, err := statFields("garbage"); err == nil {
		t.Fatal("no error for a malformed stat line")
	}
}
