package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// Timer is a started timer that can be stopped: a *time.Timer, or a test
// clock's.
type Timer interface{ Stop() bool }

// afterFunc starts a timer that calls f in its own goroutine after d
// (time.AfterFunc, or a test clock's).
type afterFunc func(d time.Duration, f func()) Timer

func realAfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// entry is one in-flight activation (OpenWhisk's ActivationEntry).
type entry struct {
	id            string
	tid           string
	namespace     string // controller.ThrottleKey of the caller: the namespace counted in flight
	invoker       int    // the invoker it was sent to
	slotKey       string // the action's slot key (fqn with version)
	memoryMB      int
	maxConcurrent int
	blocking      bool
	answered      bool                    // the waiter has its answer (or was closed)
	done          chan *entity.Activation // buffered(1); nil when not blocking
	timer         Timer
	// req is the request without its arguments, kept only for the
	// sharding balancer's OnForcedCompletion hook.
	req *controller.ActivationRequest
}

// inflight is the in-flight bookkeeping shared by the balancers: entries by
// activation id, each with its forced-completion timer, waiters resolved by
// acks. Its methods are safe for concurrent use.
type inflight struct {
	afterFunc afterFunc
	// onDone is called, without inflight's lock held, once for every entry
	// that leaves the bookkeeping by a slot-freeing ack (result success or
	// systemError) or by its forced-completion timer (result timeout). It
	// is not called for entries dropped by cancel or close.
	onDone func(e *entry, r result)

	mu       sync.Mutex
	closed   bool
	entries  map[string]*entry
	memoryMB int
	// perNamespace counts the entries by namespace (entry.namespace);
	// namespaces with none are absent.
	perNamespace map[string]int
}

func newInflight(af afterFunc, onDone func(*entry, result)) *inflight {
	if af == nil {
		af = realAfterFunc
	}
	if onDone == nil {
		onDone = func(*entry, result) {}
	}
	return &inflight{afterFunc: af, onDone: onDone, entries: map[string]*entry{}, perNamespace: map[string]int{}}
}

// add registers e and starts its forced-completion timer. Errors:
// entity.ErrUnavailable once closed; a plain error if an activation with
// e's id is already in flight.
func (f *inflight) add(e *entry, timeout time.Duration) error {
	if e.blocking && e.done == nil {
		e.done = make(chan *entity.Activation, 1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return entity.Errorf(entity.ErrUnavailable, "No invokers available.")
	}
	if _, dup := f.entries[e.id]; dup {
		return fmt.Errorf("loadbalancer: activation %s is already in flight", e.id)
	}
	f.entries[e.id] = e
	f.memoryMB += e.memoryMB
	f.perNamespace[e.namespace]++
	e.timer = f.afterFunc(timeout, func() { f.forceComplete(e) })
	return nil
}

// removeLocked drops e. Called with f.mu held.
func (f *inflight) removeLocked(e *entry) {
	delete(f.entries, e.id)
	f.memoryMB -= e.memoryMB
	if n := f.perNamespace[e.namespace] - 1; n > 0 {
		f.perNamespace[e.namespace] = n
	} else {
		delete(f.perNamespace, e.namespace)
	}
	e.timer.Stop()
}

// closeWaiterLocked closes a blocking waiter that has no answer yet.
// Called with f.mu held.
func closeWaiterLocked(e *entry) {
	if e.done != nil && !e.answered {
		e.answered = true
		close(e.done)
	}
}

// cancel drops e without an outcome (its message could not be published)
// and reports whether it was still in flight (false if it was completed or
// forced complete meanwhile, which already called onDone).
func (f *inflight) cancel(e *entry) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries[e.id] != e {
		return false
	}
	f.removeLocked(e)
	return true
}

// forceComplete ends an activation whose completion never came: it leaves
// the bookkeeping (onDone with resultTimeout) and a blocking waiter is
// closed empty, so the controller looks for the record in the store.
func (f *inflight) forceComplete(e *entry) {
	f.mu.Lock()
	if f.entries[e.id] != e {
		f.mu.Unlock()
		return
	}
	f.removeLocked(e)
	closeWaiterLocked(e)
	f.mu.Unlock()
	f.onDone(e, resultTimeout)
}

// ack applies an ack to its in-flight entry: see classifyAck. It reports
// whether the activation was in flight; acks for unknown activations
// (forced complete already, duplicates, health test actions) change
// nothing.
func (f *inflight) ack(a *messaging.Ack) (found bool) {
	f.mu.Lock()
	e := f.entries[a.ActivationID]
	if e == nil {
		f.mu.Unlock()
		return false
	}
	eff := classifyAck(a.Kind, e.blocking, e.answered, a.Record != nil)
	if eff.deliver {
		e.done <- a.Record
	}
	if eff.close {
		e.answered = true
		close(e.done)
	}
	if eff.release {
		f.removeLocked(e)
	}
	f.mu.Unlock()
	if eff.release {
		r := resultSuccess
		if a.IsSystemError {
			r = resultSystemError
		}
		f.onDone(e, r)
	}
	return true
}

// close refuses further adds and drops every entry, closing the open
// waiters (without calling onDone).
func (f *inflight) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, e := range f.entries {
		f.removeLocked(e)
		closeWaiterLocked(e)
	}
}

// counts reports how many activations are in flight and the memory they
// hold.
func (f *inflight) counts() (count, memoryMB int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries), f.memoryMB
}

// namespaceCount reports how many activations of namespace (an
// entry.namespace) are in flight.
func (f *inflight) namespaceCount(namespace string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perNamespace[namespace]
}

// fetchRetryDelay is the pause after a failed Fetch.
const fetchRetryDelay = 100 * time.Millisecond

// consume fetches messages from c and hands each to handle (after
// committing it: delivery is at most once, as OpenWhisk's MessageFeed)
// until ctx ends (ctx's error) or c is closed (messaging.ErrClosed: nil).
// Other Fetch errors are logged and retried after fetchRetryDelay.
func consume(ctx context.Context, c messaging.Consumer, log *slog.Logger, what string, handle func(messaging.Message)) error {
	for {
		m, err := c.Fetch(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, messaging.ErrClosed):
				return nil
			}
			log.Warn("fetching "+what+"; retrying", "err", err)
			t := time.NewTimer(fetchRetryDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			continue
		}
		if err := c.Commit(ctx, m); err != nil {
			log.Warn("committing "+what+" offset", "offset", m.Offset, "err", err)
		}
		handle(m)
	}
}
