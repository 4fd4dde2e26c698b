package pool

import (
	"errors"
	"iter"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

// The pool's decisions, as pure functions over its indexes: no I/O, no
// clock, no goroutines.

// listID names the intrusive lists an entry can be in at once.
type listID uint8

const (
	inFree    listID = iota // free[key]: claimable, with capacity left
	inIdle                  // idle: no run, evictable; least recently used first
	inStem                  // stems[kind+memory]: unclaimed stem cells
	inPrewarm               // prewarmed: all unclaimed stem cells, oldest first
	nLists
)

type link struct {
	prev, next *entry
	in         *entryList
}

// entryList is an intrusive doubly linked list of entries: push, remove
// and front/back are O(1) and allocation-free.
type entryList struct {
	id         listID
	head, tail *entry
	n          int
}

func newList(id listID) *entryList { return &entryList{id: id} }

func (l *entryList) pushBack(e *entry) {
	lk := &e.links[l.id]
	if lk.in != nil {
		lk.in.remove(e)
	}
	lk.in, lk.prev, lk.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.links[l.id].next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

// remove takes e out of l; it is a no-op when e is not in l.
func (l *entryList) remove(e *entry) {
	lk := &e.links[l.id]
	if lk.in != l {
		return
	}
	if lk.prev != nil {
		lk.prev.links[l.id].next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != nil {
		lk.next.links[l.id].prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	*lk = link{}
	l.n--
}

func (l *entryList) front() *entry {
	if l == nil {
		return nil
	}
	return l.head
}

func (l *entryList) back() *entry {
	if l == nil {
		return nil
	}
	return l.tail
}

func (l *entryList) len() int {
	if l == nil {
		return 0
	}
	return l.n
}

// all yields the entries front to back; the consumer must not change the
// list while iterating.
func (l *entryList) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		if l == nil {
			return
		}
		for e := l.head; e != nil; e = e.links[l.id].next {
			if !yield(e) {
				return
			}
		}
	}
}

// stemKey identifies interchangeable stem cells: same kind, exactly equal
// memory (OpenWhisk has no prewarm promotion).
type stemKey struct {
	kind     string
	memoryMB int
}

// pick returns the container a job with key should reuse: the most recently
// freed claimable container of exactly that key (invocation namespace,
// action, revision), or nil. O(1).
func pick(free map[Key]*entryList, key Key) *entry {
	return free[key].back()
}

// stemCellFor returns the oldest unclaimed stem cell a job with spec may
// take: same kind and exactly equal memory, never for blackbox (user
// image) actions. Nil when there is none.
func stemCellFor(stems map[stemKey]*entryList, spec container.Spec) *entry {
	if spec.Kind == "blackbox" || spec.Native {
		return nil
	}
	return stems[stemKey{spec.Kind, spec.MemoryMB}].front()
}

// evict chooses the containers to remove so that needMB fit when freeMB
// are free: candidates in order (least recently used idle containers
// first, then unclaimed stem cells) until enough memory is freed. ok is
// false (and victims nil) when even all candidates would not make room;
// with room already, it returns no victims and ok.
func evict(candidates iter.Seq[*entry], freeMB, needMB int) (victims []*entry, ok bool) {
	if freeMB >= needMB {
		return nil, true
	}
	for e := range candidates {
		victims = append(victims, e)
		freeMB += e.memMB
		if freeMB >= needMB {
			return victims, true
		}
	}
	return nil, false
}

// concat yields the entries of the sequences one after the other.
func concat(seqs ...iter.Seq[*entry]) iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for _, s := range seqs {
			for e := range s {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// shouldPause reports whether a container idle since idleSince is due to
// be paused (grace < 0 disables pausing).
func shouldPause(s state, idleSince, now time.Time, grace time.Duration) bool {
	return s == stReady && grace >= 0 && !now.Before(idleSince.Add(grace))
}

// shouldRemove reports whether a container idle since idleSince is due to
// be removed (idleTimeout < 0 disables removal).
func shouldRemove(s state, idleSince, now time.Time, idleTimeout time.Duration) bool {
	return (s == stReady || s == stPaused) && idleTimeout >= 0 && !now.Before(idleSince.Add(idleTimeout))
}

// timerEvent is the event an idle timer firing at now stands for, if any:
// removal takes precedence over pausing.
func timerEvent(s state, idleSince, now time.Time, grace, idleTimeout time.Duration) (event, bool) {
	switch {
	case shouldRemove(s, idleSince, now, idleTimeout):
		return evIdleTimeout, true
	case shouldPause(s, idleSince, now, grace):
		return evPauseDue, true
	}
	return 0, false
}

// nextWake is how long until the next idle-timer decision for a container
// idle since idleSince (ok false: none is pending).
func nextWake(s state, idleSince, now time.Time, grace, idleTimeout time.Duration) (time.Duration, bool) {
	var at time.Time
	set := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	switch s {
	case stReady:
		if grace >= 0 {
			set(idleSince.Add(grace))
		}
		if idleTimeout >= 0 {
			set(idleSince.Add(idleTimeout))
		}
	case stPaused:
		if idleTimeout >= 0 {
			set(idleSince.Add(idleTimeout))
		}
	}
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// logPlan is how the logs of a finished activation are read.
type logPlan struct {
	wait   bool          // wait for the sentinels
	bound  time.Duration // bounds the whole read
	notice string        // appended when the read reports an error
	always bool          // append notice whatever the read reports
}

// planLogs decides how to read the logs of an activation that ended with
// response status code, failed is the Container error of its /init or
// /run (nil when the runtime answered) and limit its log limit in bytes.
//
// The sentinels are awaited, within OpenWhisk's collection timeout, after a
// success, an application error or a whisk error; a failed read then gets
// the collection-failure notice. After a developer error the runtime
// normally writes them at once (after a failed /init, after an exception),
// so they are awaited only briefly (a sandbox that has exited ends its
// streams sooner), and the developer-error notice says that logs may be
// missing when they were not all seen. A timed-out action still runs and
// writes no sentinel: its logs are read as they are. A timed-out, crashed
// or OOM-killed action always gets the notice.
func planLogs(code int, failed error, limit int64) logPlan {
	collect := logCollectTimeout(limit)
	if code != entity.StatusDeveloperError {
		return logPlan{wait: true, bound: collect, notice: container.LogsCollectionFailed}
	}
	p := logPlan{wait: true, bound: min(devErrorLogWait, collect), notice: container.LogsDeveloperError}
	switch {
	case container.TimedOut(failed):
		p.wait, p.always = false, true
	case errors.Is(failed, container.ErrExited) || errors.Is(failed, container.ErrOOM):
		p.always = true
	}
	return p
}

// logCollectTimeout is OpenWhisk's overall log-reading timeout:
// max(log limit in MB, 5) × 2 s.
func logCollectTimeout(limit int64) time.Duration {
	return max(time.Duration(limit>>20)*2*time.Second, minLogCollectTimeout)
}
