package lean

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

func fetch(t *testing.T, c messaging.Consumer) messaging.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return m
}

func send(t *testing.T, p messaging.Producer, topic, v string) {
	t.Helper()
	if err := p.Send(context.Background(), topic, []byte(v)); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// nothingPending asserts that Fetch has nothing to return right now.
func nothingPending(t *testing.T, c messaging.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m, err := c.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch = %q, %v; want nothing pending", m.Value, err)
	}
}

func TestOrderOffsetsAndCommit(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	c := b.Consumer("invoker0", "invoker0")
	p := b.Producer()
	for i := range 3 {
		send(t, p, "invoker0", "m"+strconv.Itoa(i))
	}
	for i := range 3 {
		m := fetch(t, c)
		if string(m.Value) != "m"+strconv.Itoa(i) || m.Offset != int64(i) || m.Topic != "invoker0" || m.Partition != 0 {
			t.Fatalf("message %d = %+v", i, m)
		}
		if err := c.Commit(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	nothingPending(t, c)
	s := b.Stats("invoker0")
	if s.Retained != 0 || s.Bytes != 0 || s.Committed["invoker0"] != 3 {
		t.Fatalf("stats %+v", s)
	}
	if err := c.Commit(context.Background(), messaging.Message{Topic: "other"}); err == nil {
		t.Fatal("commit of another topic's message succeeded")
	}
}

func TestGroupsAndMembers(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	g1a := b.Consumer("t", "g1")
	g1b := b.Consumer("t", "g1")
	g2 := b.Consumer("t", "g2")
	other := b.Consumer("u", "g1")
	p := b.Producer()
	send(t, p, "t", "x")
	send(t, p, "t", "y")
	// g2 sees both, in order.
	if a, bb := fetch(t, g2), fetch(t, g2); string(a.Value) != "x" || string(bb.Value) != "y" {
		t.Fatalf("g2 got %q %q", a.Value, bb.Value)
	}
	// g1's members share them: each message once.
	got := map[string]int{string(fetch(t, g1a).Value): 1}
	got[string(fetch(t, g1b).Value)]++
	if got["x"] != 1 || got["y"] != 1 {
		t.Fatalf("g1 got %v", got)
	}
	nothingPending(t, g1a)
	nothingPending(t, g1b)
	nothingPending(t, other)
}

func TestBacklogBeforeFirstGroup(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	p := b.Producer()
	send(t, p, "invoker0", "early")
	c := b.Consumer("invoker0", "invoker0")
	if m := fetch(t, c); string(m.Value) != "early" {
		t.Fatalf("got %q", m.Value)
	}
	// A group joining later starts at the oldest retained message: after
	// the first group read it, nothing is retained.
	late := b.Consumer("invoker0", "late")
	nothingPending(t, late)
	send(t, p, "invoker0", "next")
	if m := fetch(t, late); string(m.Value) != "next" {
		t.Fatalf("late got %q", m.Value)
	}
}

func TestSendCopiesValue(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	c := b.Consumer("t", "g")
	buf := []byte("hello")
	if err := b.Producer().Send(context.Background(), "t", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	if m := fetch(t, c); string(m.Value) != "hello" {
		t.Fatalf("got %q after the caller reused its buffer", m.Value)
	}
}

func TestFullTopic(t *testing.T) {
	b := New(Config{QueueLength: 2, SendTimeout: time.Hour})
	defer b.Close()
	c := b.Consumer("t", "g")
	p := b.Producer()
	send(t, p, "t", "1")
	send(t, p, "t", "2")

	// Full: Send waits and gives up with ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := p.Send(ctx, "t", []byte("3"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full topic = %v, want DeadlineExceeded", err)
	}

	// A blocked Send proceeds once a Fetch frees room.
	done := make(chan error, 1)
	go func() { done <- p.Send(context.Background(), "t", []byte("3")) }()
	if m := fetch(t, c); string(m.Value) != "1" {
		t.Fatalf("got %q", m.Value)
	}
	if err := <-done; err != nil {
		t.Fatalf("blocked Send: %v", err)
	}
	for _, want := range []string{"2", "3"} {
		if m := fetch(t, c); string(m.Value) != want {
			t.Fatalf("got %q, want %q", m.Value, want)
		}
	}
}

func TestFullTopicSendTimeoutIsUnavailable(t *testing.T) {
	b := New(Config{QueueLength: 1, SendTimeout: 10 * time.Millisecond})
	defer b.Close()
	p := b.Producer()
	send(t, p, "t", "1") // no group: retained
	err := p.Send(context.Background(), "t", []byte("2"))
	if !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Send = %v, want ErrUnavailable", err)
	}
}

func TestQueueBytes(t *testing.T) {
	b := New(Config{QueueBytes: 10, SendTimeout: 10 * time.Millisecond})
	defer b.Close()
	c := b.Consumer("t", "g")
	p := b.Producer()
	send(t, p, "t", "0123456789abcdef") // larger than the limit, admitted into an empty topic
	if err := p.Send(context.Background(), "t", []byte("x")); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Send over the byte limit = %v", err)
	}
	fetch(t, c)
	send(t, p, "t", "x")
	if s := b.Stats("t"); s.Bytes != 1 || s.Retained != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMaxMessageBytes(t *testing.T) {
	b := New(Config{MaxMessageBytes: 4})
	defer b.Close()
	if err := b.Producer().Send(context.Background(), "t", []byte("12345")); !errors.Is(err, entity.ErrTooLarge) {
		t.Fatalf("Send = %v, want ErrTooLarge", err)
	}
}

func TestCloseWakesBlockedCalls(t *testing.T) {
	b := New(Config{QueueLength: 1, SendTimeout: time.Hour})
	c := b.Consumer("t", "g")
	p := b.Producer()
	send(t, p, "full", "1")

	errs := make(chan error, 2)
	go func() { _, err := c.Fetch(context.Background()); errs <- err }()
	go func() { errs <- p.Send(context.Background(), "full", []byte("2")) }()
	b.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrClosed) || !errors.Is(err, entity.ErrUnavailable) {
			t.Fatalf("blocked call after Close = %v", err)
		}
	}
	if err := p.Send(context.Background(), "t", []byte("x")); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Send after Close = %v", err)
	}
	if _, err := c.Fetch(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch after Close = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConsumerCloseWakesItsFetch(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	c := b.Consumer("t", "g")
	other := b.Consumer("t", "g2")
	errs := make(chan error, 1)
	go func() { _, err := c.Fetch(context.Background()); errs <- err }()
	_ = c.Close()
	if err := <-errs; !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch after consumer Close = %v", err)
	}
	_ = c.Close()
	if err := c.Commit(context.Background(), messaging.Message{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	// The other group is unaffected, and the closed group no longer holds
	// messages back.
	send(t, b.Producer(), "t", "x")
	if m := fetch(t, other); string(m.Value) != "x" {
		t.Fatalf("got %q", m.Value)
	}
	if s := b.Stats("t"); s.Retained != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProducerClose(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	p := b.Producer()
	_ = p.Close()
	_ = p.Close()
	if err := p.Send(context.Background(), "t", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after producer Close = %v", err)
	}
	send(t, b.Producer(), "t", "still works")
}

func TestFetchHonoursContext(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	c := b.Consumer("t", "g")
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() { _, err := c.Fetch(ctx); errs <- err }()
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch = %v", err)
	}
}

// Many producers and consumers in two groups: every message reaches
// exactly one member of each group. Run with -race.
func TestConcurrentProducersConsumers(t *testing.T) {
	const producers, perProducer, members = 8, 500, 4
	b := New(Config{QueueLength: 64})
	defer b.Close()
	groups := []string{"g1", "g2"}
	var mu sync.Mutex
	seen := map[string]map[string]int{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cwg sync.WaitGroup
	total := producers * perProducer
	remaining := map[string]int{}
	doneGroup := make(chan string, len(groups))
	for _, g := range groups {
		seen[g] = map[string]int{}
		remaining[g] = total
		for range members {
			c := b.Consumer("t", g)
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				for {
					m, err := c.Fetch(ctx)
					if err != nil {
						return
					}
					_ = c.Commit(ctx, m)
					mu.Lock()
					seen[g][string(m.Value)]++
					remaining[g]--
					if remaining[g] == 0 {
						doneGroup <- g
					}
					mu.Unlock()
				}
			}()
		}
	}
	var pwg sync.WaitGroup
	for i := range producers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			p := b.Producer()
			for j := range perProducer {
				if err := p.Send(ctx, "t", []byte(fmt.Sprintf("%d-%d", i, j))); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	for range groups {
		select {
		case <-doneGroup:
		case <-time.After(30 * time.Second):
			t.Fatalf("consumers did not receive every message: remaining %v", remaining)
		}
	}
	cancel()
	cwg.Wait()
	for _, g := range groups {
		if len(seen[g]) != total {
			t.Fatalf("group %s saw %d distinct messages, want %d", g, len(seen[g]), total)
		}
		for v, n := range seen[g] {
			if n != 1 {
				t.Fatalf("group %s got %s %d times", g, v, n)
			}
		}
	}
	if s := b.Stats("t"); s.Retained != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// BenchmarkSendFetchRoundTrip measures a request/response over the bus:
// one goroutine sends on "ping" and waits on "pong"; another echoes.
func BenchmarkSendFetchRoundTrip(b *testing.B) {
	bus := New(Config{})
	defer bus.Close()
	ctx := context.Background()
	ping, pong := bus.Consumer("ping", "g"), bus.Consumer("pong", "g")
	go func() {
		p := bus.Producer()
		for {
			m, err := ping.Fetch(ctx)
			if err != nil {
				return
			}
			if p.Send(ctx, "pong", m.Value) != nil {
				return
			}
		}
	}()
	p := bus.Producer()
	msg := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := p.Send(ctx, "ping", msg); err != nil {
			b.Fatal(err)
		}
		if _, err := pong.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendFetch measures one send and one fetch on one goroutine.
func BenchmarkSendFetch(b *testing.B) {
	bus := New(Config{})
	defer bus.Close()
	ctx := context.Background()
	c, p := bus.Consumer("t", "g"), bus.Producer()
	msg := make([]byte, 512)
	b.ReportAllocs()
	for range b.N {
		if err := p.Send(ctx, "t", msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// SendValue delivers the value itself, counted as its size against the
// byte limits, and refuses values over MaxMessageBytes.
func TestSendValue(t *testing.T) {
	b := New(Config{QueueBytes: 100, MaxMessageBytes: 80, SendTimeout: 10 * time.Millisecond})
	defer b.Close()
	c := b.Consumer("t", "g")
	p := b.Producer().(messaging.ValueSender)
	v := &messaging.Ack{Kind: messaging.AckCompletion, ActivationID: "x"}
	if err := p.SendValue(context.Background(), "t", v, 60); err != nil {
		t.Fatal(err)
	}
	if err := p.SendValue(context.Background(), "t", v, 60); !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("SendValue over the byte limit = %v", err)
	}
	if err := p.SendValue(context.Background(), "t", v, 81); !errors.Is(err, entity.ErrTooLarge) {
		t.Fatalf("SendValue over MaxMessageBytes = %v", err)
	}
	if err := p.SendValue(context.Background(), "t", nil, 1); err == nil {
		t.Fatal("SendValue(nil): no error")
	}
	if s := b.Stats("t"); s.Bytes != 60 || s.Retained != 1 {
		t.Fatalf("stats %+v", s)
	}
	m := fetch(t, c)
	if m.Decoded != any(v) || m.Value != nil || m.Offset != 0 {
		t.Fatalf("fetched %+v", m)
	}
	if s := b.Stats("t"); s.Bytes != 0 || s.Retained != 0 {
		t.Fatalf("stats after fetch %+v", s)
	}
	send(t, p.(messaging.Producer), "t", "bytes")
	if m := fetch(t, c); string(m.Value) != "bytes" || m.Decoded != nil || m.Offset != 1 {
		t.Fatalf("fetched %+v", m)
	}
}

// Handle takes the topic's messages in the sender's goroutine; removing
// it queues them again.
func TestHandle(t *testing.T) {
	b := New(Config{})
	defer b.Close()
	c := b.Consumer("t", "g")
	p := b.Producer()
	var got []messaging.Message
	remove, err := b.Handle("t", func(m messaging.Message) { got = append(got, m) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Handle("t", func(messaging.Message) {}); err == nil {
		t.Fatal("a second handler was accepted")
	}
	send(t, p, "t", "one")
	v := &messaging.Ack{ActivationID: "x"}
	if err := p.(messaging.ValueSender).SendValue(context.Background(), "t", v, 10); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Value) != "one" || got[1].Decoded != any(v) || got[0].Offset != 1 || got[1].Offset != 2 {
		t.Fatalf("handled %+v", got)
	}
	nothingPending(t, c)
	remove()
	send(t, p, "t", "queued")
	if m := fetch(t, c); string(m.Value) != "queued" || m.Offset != 0 {
		t.Fatalf("fetched %+v", m)
	}
	send(t, p, "t", "held")
	if _, err := b.Handle("t", func(messaging.Message) {}); err == nil {
		t.Fatal("Handle on a topic holding a message was accepted")
	}
	if _, err := b.Handle("u", nil); err == nil {
		t.Fatal("a nil handler was accepted")
	}
}
