// Package lean is the in-process messaging adapter used by the standalone
// server: the same Producer and Consumer seams as Kafka, over bounded
// in-memory topic logs.
//
// Semantics:
//   - A topic is a bounded log (Config.QueueLength messages and
//     Config.QueueBytes bytes). Each consumer group has its own read
//     position in it, so every message reaches exactly one consumer of
//     every group. A message is dropped from the log once every group read
//     it; while a topic has no group, messages are retained (a consumer
//     that starts after its producer still sees them: the group created
//     first starts at the oldest retained message, as Kafka's
//     auto.offset.reset=earliest). A group disappears when its last
//     consumer closes.
//   - Send on a full topic blocks until there is room, ctx ends (ctx's
//     error), the bus closes, or Config.SendTimeout passes; the last two
//     give an error wrapping entity.ErrUnavailable (HTTP 503 at the
//     controller), so a stalled consumer turns into back-pressure and
//     then into "unavailable", never into unbounded memory.
//   - Send copies msg once (the caller may reuse its buffer); the copy is
//     shared by every group, and Fetch hands it out without copying:
//     consumers must not modify Message.Value.
//   - SendValue (messaging.ValueSender) queues a decoded message as it is:
//     Fetch returns it in Message.Decoded, sparing the JSON encoding and
//     decoding on the standalone hot path. Its size argument stands for
//     the message's bytes in the bounds above.
//   - Handle makes a function the consumer of a topic: messages sent on it
//     are handed to the function in the sender's goroutine instead of being
//     queued, sparing the hop to a consumer's goroutine (the standalone
//     server's acks).
//   - Commit only records the group's committed offset (delivery is
//     at-most-once, as OpenWhisk's consumers commit right after each poll).
//   - Close on the bus (or on a consumer) wakes every blocked Fetch and
//     Send, which then return messaging.ErrClosed (wrapping
//     entity.ErrUnavailable).
package lean

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// ErrClosed is returned by Send, Fetch and Commit once the bus, the
// producer or the consumer is closed: messaging.ErrClosed, which wraps
// entity.ErrUnavailable.
var ErrClosed = messaging.ErrClosed

// Defaults of Config.
const (
	DefaultQueueLength = 4096
	DefaultQueueBytes  = 256 << 20
	DefaultSendTimeout = 10 * time.Second
)

// Config sizes the bus. Zero values take the defaults.
type Config struct {
	// QueueLength is how many messages a topic retains at most.
	QueueLength int
	// QueueBytes is how many bytes of messages a topic retains at most
	// (one message larger than this is still admitted into an empty topic).
	QueueBytes int64
	// MaxMessageBytes rejects larger messages with entity.ErrTooLarge
	// (0 = no limit).
	MaxMessageBytes int
	// SendTimeout bounds how long Send waits for room in a full topic.
	SendTimeout time.Duration
}

// Bus is an in-process message broker. Its methods are safe for concurrent
// use. Create it with New.
type Bus struct {
	cfg  Config
	done chan struct{}

	mu     sync.Mutex
	closed bool
	topics map[string]*topic
}

// New returns an empty bus.
func New(cfg Config) *Bus {
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	return &Bus{cfg: cfg, done: make(chan struct{}), topics: map[string]*topic{}}
}

// Close closes the bus: blocked and later Sends and Fetches return
// ErrClosed. It is idempotent and always returns nil.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	return nil
}

func (b *Bus) isClosed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// topic returns the topic named name, creating it.
func (b *Bus) topic(name string) *topic {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[name]
	if t == nil {
		t = &topic{name: name, ring: make([]slot, b.cfg.QueueLength), groups: map[string]*group{}}
		b.topics[name] = t
	}
	return t
}

// Producer returns a producer on the bus. Closing it does not close the bus.
// It is also a messaging.ValueSender.
func (b *Bus) Producer() messaging.Producer {
	return &producer{bus: b, done: make(chan struct{})}
}

// Consumer returns a new member of consumer group on topic. Members of one
// group share its messages; every group sees every message.
func (b *Bus) Consumer(topicName, groupName string) messaging.Consumer {
	t := b.topic(topicName)
	t.mu.Lock()
	g := t.groups[groupName]
	if g == nil {
		g = &group{next: t.head, committed: t.head}
		t.groups[groupName] = g
	}
	g.members++
	t.mu.Unlock()
	return &consumer{bus: b, topic: t, group: g, name: groupName, done: make(chan struct{})}
}

// slot is one retained message: its bytes or its decoded value, and the
// size it counts for.
type slot struct {
	value   []byte
	decoded any
	size    int
}

// Handle makes h the consumer of topicName: every message sent on it from
// now on is passed to h in the sender's goroutine, before Send or SendValue
// returns, instead of being queued; consumers of the topic get none of
// them (their offsets count on their own, from 1). h must return quickly
// and must not send on topicName. The returned function removes h (later
// messages are queued again). It fails if the topic already has a handler
// or holds messages.
func (b *Bus) Handle(topicName string, h func(messaging.Message)) (remove func(), err error) {
	if h == nil {
		return nil, errors.New("lean: Handle with a nil handler")
	}
	t := b.topic(topicName)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.handler != nil:
		return nil, fmt.Errorf("lean: topic %s already has a handler", topicName)
	case t.tail > t.head:
		return nil, fmt.Errorf("lean: topic %s holds %d messages", topicName, t.tail-t.head)
	}
	t.handler = h
	return func() {
		t.mu.Lock()
		t.handler = nil
		t.mu.Unlock()
	}, nil
}

// topic is one bounded log. Offsets [head, tail) are retained in ring.
type topic struct {
	name string

	mu        sync.Mutex
	ring      []slot
	head      int64
	tail      int64
	bytes     int64
	groups    map[string]*group
	handler   func(messaging.Message) // set by Handle: takes messages instead of the log
	handled   int64                   // messages passed to handler (their offsets)
	dataWait  chan struct{}           // closed when a message arrives; nil if nobody waits
	spaceWait chan struct{}           // closed when room frees up; nil if nobody waits
}

// group is a consumer group's position in a topic.
type group struct {
	next      int64 // next offset handed out
	committed int64 // highest committed offset + 1
	members   int
}

// room reports whether a message of n bytes fits. Called with t.mu held.
func (t *topic) room(n int, maxBytes int64) bool {
	used := t.tail - t.head
	if used >= int64(len(t.ring)) {
		return false
	}
	return used == 0 || t.bytes+int64(n) <= maxBytes
}

// release drops the messages every group has read. Called with t.mu held.
func (t *topic) release() {
	if len(t.groups) == 0 {
		return
	}
	low := t.tail
	for _, g := range t.groups {
		if g.next < low {
			low = g.next
		}
	}
	if low <= t.head {
		return
	}
	for o := t.head; o < low; o++ {
		i := o % int64(len(t.ring))
		t.bytes -= int64(t.ring[i].size)
		t.ring[i] = slot{}
	}
	t.head = low
	if t.spaceWait != nil {
		close(t.spaceWait)
		t.spaceWait = nil
	}
}

var _ messaging.ValueSender = (*producer)(nil)

type producer struct {
	bus       *Bus
	closeOnce sync.Once
	done      chan struct{}
}

// Send appends a copy of msg to topicName; see the package comment for
// when it blocks.
func (p *producer) Send(ctx context.Context, topicName string, msg []byte) error {
	if err := p.check(len(msg)); err != nil {
		return err
	}
	return p.append(ctx, topicName, slot{value: append(make([]byte, 0, len(msg)), msg...), size: len(msg)})
}

// SendValue appends v itself to topicName, counted as size bytes; its
// consumers get it in Message.Decoded. It blocks as Send does.
func (p *producer) SendValue(ctx context.Context, topicName string, v any, size int) error {
	if v == nil {
		return errors.New("lean: SendValue of a nil value")
	}
	if err := p.check(size); err != nil {
		return err
	}
	return p.append(ctx, topicName, slot{decoded: v, size: size})
}

// check refuses messages when the producer or the bus is closed, or when
// a message of n bytes exceeds Config.MaxMessageBytes.
func (p *producer) check(n int) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	b := p.bus
	if b.isClosed() {
		return ErrClosed
	}
	if b.cfg.MaxMessageBytes > 0 && n > b.cfg.MaxMessageBytes {
		return entity.Errorf(entity.ErrTooLarge, "message of %d bytes exceeds the limit of %d bytes", n, b.cfg.MaxMessageBytes)
	}
	return nil
}

// append queues s on topicName once there is room.
func (p *producer) append(ctx context.Context, topicName string, s slot) error {
	b := p.bus
	t := b.topic(topicName)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	t.mu.Lock()
	for {
		if h := t.handler; h != nil {
			t.handled++
			off := t.handled
			t.mu.Unlock()
			h(messaging.Message{Topic: t.name, Offset: off, Value: s.value, Decoded: s.decoded})
			return nil
		}
		if t.room(s.size, b.cfg.QueueBytes) {
			t.ring[t.tail%int64(len(t.ring))] = s
			t.tail++
			t.bytes += int64(s.size)
			if t.dataWait != nil {
				close(t.dataWait)
				t.dataWait = nil
			}
			t.mu.Unlock()
			return nil
		}
		if t.spaceWait == nil {
			t.spaceWait = make(chan struct{})
		}
		wait := t.spaceWait
		t.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(b.cfg.SendTimeout)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return entity.Errorf(entity.ErrUnavailable, "messaging: topic %s is full (no consumer is keeping up)", topicName)
		case <-b.done:
			return ErrClosed
		case <-p.done:
			return ErrClosed
		}
		t.mu.Lock()
	}
}

// Close makes later Sends fail; it does not affect the bus.
func (p *producer) Close() error {
	p.closeOnce.Do(func() { close(p.done) })
	return nil
}

type consumer struct {
	bus       *Bus
	topic     *topic
	group     *group
	name      string
	closeOnce sync.Once
	done      chan struct{}
}

// Fetch returns the group's next message, waiting for one until ctx ends
// or the consumer or the bus closes.
func (c *consumer) Fetch(ctx context.Context) (messaging.Message, error) {
	t := c.topic
	t.mu.Lock()
	for {
		if c.isClosed() || c.bus.isClosed() {
			t.mu.Unlock()
			return messaging.Message{}, ErrClosed
		}
		g := c.group
		if g.next < t.tail {
			off := g.next
			sl := &t.ring[off%int64(len(t.ring))]
			m := messaging.Message{Topic: t.name, Offset: off, Value: sl.value, Decoded: sl.decoded}
			g.next++
			if off == t.head {
				t.release()
			}
			t.mu.Unlock()
			return m, nil
		}
		if t.dataWait == nil {
			t.dataWait = make(chan struct{})
		}
		wait := t.dataWait
		t.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return messaging.Message{}, ctx.Err()
		case <-c.done:
		case <-c.bus.done:
		}
		t.mu.Lock()
	}
}

// Commit records m's offset as the group's committed position.
func (c *consumer) Commit(_ context.Context, m messaging.Message) error {
	if c.isClosed() {
		return ErrClosed
	}
	if m.Topic != c.topic.name {
		return fmt.Errorf("messaging: commit of a message of topic %q on a consumer of %q", m.Topic, c.topic.name)
	}
	c.topic.mu.Lock()
	if m.Offset+1 > c.group.committed {
		c.group.committed = m.Offset + 1
	}
	c.topic.mu.Unlock()
	return nil
}

func (c *consumer) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Close leaves the group (the group goes away with its last member) and
// wakes this consumer's blocked Fetch. It is idempotent.
func (c *consumer) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		t := c.topic
		t.mu.Lock()
		c.group.members--
		if c.group.members == 0 && t.groups[c.name] == c.group {
			delete(t.groups, c.name)
			t.release()
		}
		t.mu.Unlock()
	})
	return nil
}

// Stats is a snapshot of a topic, for tests and diagnostics.
type Stats struct {
	Retained  int64            // messages not yet read by every group
	Bytes     int64            // bytes of the retained messages
	Committed map[string]int64 // per group: highest committed offset + 1
}

// Stats returns a snapshot of topicName.
func (b *Bus) Stats(topicName string) Stats {
	t := b.topic(topicName)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{Retained: t.tail - t.head, Bytes: t.bytes, Committed: map[string]int64{}}
	for name, g := range t.groups {
		s.Committed[name] = g.committed
	}
	return s
}
