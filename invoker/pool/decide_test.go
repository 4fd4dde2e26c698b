package pool

import (
	"slices"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/invoker/container"
)

func names(es []*entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}

func TestEntryList(t *testing.T) {
	a, b, c := &entry{name: "a"}, &entry{name: "b"}, &entry{name: "c"}
	l := newList(inIdle)
	for _, e := range []*entry{a, b, c} {
		l.pushBack(e)
	}
	if got := names(slices.Collect(l.all())); !slices.Equal(got, []string{"a", "b", "c"}) || l.len() != 3 {
		t.Fatalf("list %v", got)
	}
	l.remove(b)
	l.remove(b) // no-op
	l.pushBack(a)
	if got := names(slices.Collect(l.all())); !slices.Equal(got, []string{"c", "a"}) || l.front() != c || l.back() != a {
		t.Fatalf("list %v", got)
	}
	other := newList(inIdle)
	other.pushBack(c) // moves c
	if l.len() != 1 || other.len() != 1 || l.front() != a {
		t.Fatalf("move: %d %d", l.len(), other.len())
	}
	// Membership of different lists is independent.
	free := newList(inFree)
	free.pushBack(a)
	if l.front() != a || free.front() != a {
		t.Fatal("lists interfere")
	}
	var nilList *entryList
	if nilList.front() != nil || nilList.back() != nil || nilList.len() != 0 || len(slices.Collect(nilList.all())) != 0 {
		t.Fatal("nil list")
	}
}

func TestPick(t *testing.T) {
	k1 := Key{"guest", "guest/hello", "1-a"}
	old, recent := &entry{name: "old"}, &entry{name: "recent"}
	l := newList(inFree)
	l.pushBack(old)
	l.pushBack(recent)
	free := map[Key]*entryList{k1: l, {"guest", "guest/other", "1"}: newList(inFree)}
	tests := []struct {
		name string
		key  Key
		want *entry
	}{
		{"most recently freed of the key", k1, recent},
		{"other revision", Key{"guest", "guest/hello", "2-b"}, nil},
		{"other invocation namespace", Key{"alice", "guest/hello", "1-a"}, nil},
		{"empty list", Key{"guest", "guest/other", "1"}, nil},
		{"unknown key", Key{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pick(free, tc.key); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestStemCellFor(t *testing.T) {
	first, second := &entry{name: "first"}, &entry{name: "second"}
	l := newList(inStem)
	l.pushBack(first)
	l.pushBack(second)
	stems := map[stemKey]*entryList{{"nodejs:20", 256}: l}
	tests := []struct {
		name string
		spec container.Spec
		want *entry
	}{
		{"same kind and memory takes the oldest", container.Spec{Kind: "nodejs:20", MemoryMB: 256}, first},
		{"more memory", container.Spec{Kind: "nodejs:20", MemoryMB: 512}, nil},
		{"less memory", container.Spec{Kind: "nodejs:20", MemoryMB: 128}, nil},
		{"other kind", container.Spec{Kind: "python:3.11", MemoryMB: 256}, nil},
		{"blackbox", container.Spec{Kind: "blackbox", MemoryMB: 256}, nil},
		{"native", container.Spec{Kind: "nodejs:20", MemoryMB: 256, Native: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stemCellFor(stems, tc.spec); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestEvict(t *testing.T) {
	lru := []*entry{{name: "a", memMB: 256}, {name: "b", memMB: 128}, {name: "c", memMB: 512}}
	stem := []*entry{{name: "s", memMB: 256}}
	tests := []struct {
		name     string
		cands    []*entry
		free     int
		need     int
		want     []string
		wantOK   bool
		withStem bool
	}{
		{"room already", lru, 256, 256, []string{}, true, false},
		{"least recently used first", lru, 0, 256, []string{"a"}, true, false},
		{"as many as needed", lru, 0, 300, []string{"a", "b"}, true, false},
		{"free memory counts", lru, 100, 350, []string{"a"}, true, false},
		{"all of them", lru, 0, 896, []string{"a", "b", "c"}, true, false},
		{"not enough even with all", lru, 0, 1000, []string{}, false, false},
		{"no candidates", nil, 0, 128, []string{}, false, false},
		{"stem cells after idle containers", lru, 0, 1100, []string{"a", "b", "c", "s"}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seq := slices.Values(tc.cands)
			if tc.withStem {
				seq = concat(slices.Values(tc.cands), slices.Values(stem))
			}
			got, ok := evict(seq, tc.free, tc.need)
			if ok != tc.wantOK || !slices.Equal(names(got), tc.want) {
				t.Fatalf("got %v %v", names(got), ok)
			}
		})
	}
}

func TestIdleDecisions(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	grace, idleTO := 50*time.Millisecond, 10*time.Minute
	tests := []struct {
		name      string
		s         state
		now       time.Duration // since idle
		grace     time.Duration
		idle      time.Duration
		pause     bool
		remove    bool
		event     event
		hasEvent  bool
		wake      time.Duration
		wakeKnown bool
	}{
		{"ready, just idle", stReady, 0, grace, idleTO, false, false, 0, false, grace, true},
		{"ready, before grace", stReady, 49 * time.Millisecond, grace, idleTO, false, false, 0, false, time.Millisecond, true},
		{"ready, grace elapsed", stReady, grace, grace, idleTO, true, false, evPauseDue, true, 0, true},
		{"ready, idle timeout (pause never ran)", stReady, idleTO, grace, idleTO, true, true, evIdleTimeout, true, 0, true},
		{"paused, before timeout", stPaused, time.Minute, grace, idleTO, false, false, 0, false, idleTO - time.Minute, true},
		{"paused, timeout", stPaused, idleTO, grace, idleTO, false, true, evIdleTimeout, true, 0, true},
		{"pausing is left alone", stPausing, idleTO, grace, idleTO, false, false, 0, false, 0, false},
		{"running is left alone", stRunning, idleTO, grace, idleTO, false, false, 0, false, 0, false},
		{"prewarmed is left alone", stPrewarmed, idleTO, grace, idleTO, false, false, 0, false, 0, false},
		{"pause disabled", stReady, time.Minute, -1, idleTO, false, false, 0, false, idleTO - time.Minute, true},
		{"removal disabled", stPaused, 100 * idleTO, grace, -1, false, false, 0, false, 0, false},
		{"both disabled", stReady, time.Hour, -1, -1, false, false, 0, false, 0, false},
		{"zero grace pauses at once", stReady, 0, 0, idleTO, true, false, evPauseDue, true, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.now)
			if got := shouldPause(tc.s, t0, now, tc.grace); got != tc.pause {
				t.Errorf("shouldPause %v", got)
			}
			if got := shouldRemove(tc.s, t0, now, tc.idle); got != tc.remove {
				t.Errorf("shouldRemove %v", got)
			}
			ev, ok := timerEvent(tc.s, t0, now, tc.grace, tc.idle)
			if ok != tc.hasEvent || ev != tc.event {
				t.Errorf("timerEvent %v %v", ev, ok)
			}
			d, ok := nextWake(tc.s, t0, now, tc.grace, tc.idle)
			if ok != tc.wakeKnown || d != tc.wake {
				t.Errorf("nextWake %v %v", d, ok)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"wsk0", "wsk0"},
		{"guest/hello-world", "guesthelloworld"},
		{"prewarm_nodejs:20", "prewarm_nodejs20"},
		{"", ""},
		{"ünï", "n"},
	}
	for _, tc := range tests {
		if got := sanitizeName(tc.in); got != tc.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
