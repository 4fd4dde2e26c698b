package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Brokers: []string{"127.0.0.1:9092"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchTimeout != 50*time.Microsecond || cfg.MaxMessageBytes != 1<<20+6068 || cfg.ReadMaxWait != 250*time.Millisecond ||
		cfg.ClientID != "gowhisk" || cfg.Logger == nil || cfg.HeartbeatInterval >= cfg.SessionTimeout {
		t.Fatalf("defaults %+v", cfg)
	}
	bad := []Config{
		{},
		{Brokers: []string{" "}},
		{Brokers: []string{"h:1"}, TopicPrefix: "bad prefix"},
		{Brokers: []string{"h:1"}, HeartbeatInterval: time.Minute, SessionTimeout: time.Second},
	}
	for _, c := range bad {
		if _, err := c.withDefaults(); !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("%+v: %v; want ErrInvalid", c, err)
		}
		if _, err := NewProducer(c); !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("NewProducer(%+v): %v; want ErrInvalid", c, err)
		}
		if _, err := NewConsumer(c, "health", "g"); !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("NewConsumer(%+v): %v; want ErrInvalid", c, err)
		}
	}
	good := Config{Brokers: []string{"127.0.0.1:9092"}}
	for _, tg := range [][2]string{{"", "g"}, {"a b", "g"}, {"health", ""}} {
		if _, err := NewConsumer(good, tg[0], tg[1]); !errors.Is(err, entity.ErrInvalid) {
			t.Errorf("NewConsumer(%q, %q): %v; want ErrInvalid", tg[0], tg[1], err)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want errKind
	}{
		{"broker rejects the size", kafkago.MessageSizeTooLarge, kindTooLarge},
		{"record list too large", fmt.Errorf("x: %w", kafkago.RecordListTooLarge), kindTooLarge},
		{"writer rejects the size", kafkago.MessageTooLargeError{}, kindTooLarge},
		{"in a WriteErrors list", kafkago.WriteErrors{nil, kafkago.MessageSizeTooLarge}, kindTooLarge},
		{"already exists", kafkago.TopicAlreadyExists, kindExists},
		{"invalid topic", kafkago.InvalidTopic, kindInvalid},
		{"invalid replication", kafkago.InvalidReplicationFactor, kindInvalid},
		{"unknown topic", kafkago.WriteErrors{kafkago.UnknownTopicOrPartition}, kindUnknownTopic},
		{"leader not available", kafkago.LeaderNotAvailable, kindUnavailable},
		{"connection refused", fmt.Errorf("dial: %w", errors.New("connection refused")), kindUnavailable},
		{"unexpected EOF", io.ErrUnexpectedEOF, kindUnavailable},
		{"writer closed", io.ErrClosedPipe, kindClosed},
		{"canceled", context.Canceled, kindCanceled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), kindCanceled},
		{"unavailable WriteErrors", kafkago.WriteErrors{kafkago.NotLeaderForPartition}, kindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Fatalf("classify(%v) = %d; want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	c := newConsumer(t, cfg, messaging.InvokerTopic(0), "invoker0")

	buf := []byte("m0")
	if err := p.Send(context.Background(), "invoker0", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XX") // the caller may reuse its buffer
	send(t, p, "invoker0", "m1")
	send(t, p, "invoker0", "")
	for i, want := range []string{"m0", "m1", ""} {
		m := take(t, c)
		if string(m.Value) != want || m.Offset != int64(i) || m.Topic != "invoker0" || m.Partition != 0 {
			t.Fatalf("message %d = %+v (%q), want %q at offset %d of invoker0", i, m, m.Value, want, i)
		}
	}
	// A message of the largest size round-trips on the completed topic.
	ensure(t, cfg, ControllerTopics("0"))
	big := bytes.Repeat([]byte("a"), DefaultMaxMessageBytes-200)
	if err := p.Send(context.Background(), "completed0", big); err != nil {
		t.Fatalf("Send of %d bytes: %v", len(big), err)
	}
	cc := newConsumer(t, cfg, "completed0", "completed0")
	if m := take(t, cc); !bytes.Equal(m.Value, big) {
		t.Fatalf("big message: got %d bytes", len(m.Value))
	}
	// The prefix is on the wire: an unprefixed consumer of the same name
	// sees nothing.
	other := cfg
	other.TopicPrefix = ""
	ensure(t, other, InvokerTopics(0))
	nothingPending(t, newConsumer(t, other, "invoker0", "invoker0"), time.Second)

	if err := c.Commit(context.Background(), messaging.Message{Topic: "other"}); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("commit of another topic's message = %v", err)
	}
}

func TestTwoGroupsEachSeeEveryMessage(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, ControllerTopics("0"))
	p := newProducer(t, cfg)
	// Each controller reads health in its own group.
	g0 := newConsumer(t, cfg, "health", "health0")
	g1 := newConsumer(t, cfg, "health", "health1")
	for i := range 5 {
		send(t, p, "health", "ping"+strconv.Itoa(i))
	}
	for _, c := range []*Consumer{g0, g1} {
		for i := range 5 {
			if m := take(t, c); string(m.Value) != "ping"+strconv.Itoa(i) {
				t.Fatalf("got %q, want ping%d", m.Value, i)
			}
		}
	}
	// A group joining later starts at the earliest retained message.
	late := newConsumer(t, cfg, "health", "late")
	if m := take(t, late); string(m.Value) != "ping0" {
		t.Fatalf("late group starts at %q", m.Value)
	}
}

func TestRestartedConsumerResumesAfterCommit(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	for i := range 6 {
		send(t, p, "invoker0", "a"+strconv.Itoa(i))
	}
	first := newConsumer(t, cfg, "invoker0", "invoker0")
	for i := range 3 {
		if m := take(t, first); string(m.Value) != "a"+strconv.Itoa(i) {
			t.Fatalf("first consumer got %q, want a%d", m.Value, i)
		}
	}
	// The reader prefetched a3..a5, but they were never fetched: they
	// must reach the next member.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	send(t, p, "invoker0", "a6")
	second := newConsumer(t, cfg, "invoker0", "invoker0")
	for i := 3; i < 7; i++ {
		if m := take(t, second); string(m.Value) != "a"+strconv.Itoa(i) {
			t.Fatalf("restarted consumer got %q, want a%d (nothing re-delivered, nothing skipped)", m.Value, i)
		}
	}
	nothingPending(t, second, time.Second)
}

// member collects what one consumer fetches, committing each message.
type member struct {
	c    *Consumer
	mu   sync.Mutex
	got  map[string]int // value -> partition
	done chan struct{}
}

func startMember(t *testing.T, c *Consumer) *member {
	m := &member{c: c, got: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			msg, err := c.Fetch(context.Background())
			if errors.Is(err, messaging.ErrClosed) {
				return
			}
			if retryable(err) {
				t.Logf("Fetch (retrying): %v", err)
				continue
			}
			if err != nil {
				t.Errorf("Fetch: %v", err)
				return
			}
			if err := c.Commit(context.Background(), msg); err != nil && !errors.Is(err, messaging.ErrClosed) {
				t.Logf("Commit: %v", err) // possible during a rebalance
			}
			m.mu.Lock()
			m.got[string(msg.Value)] = msg.Partition
			m.mu.Unlock()
		}
	}()
	return m
}

// partitions returns the partitions m received values of since values
// were numbered from (inclusive).
func (m *member) partitions(values []string) map[int]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := map[int]bool{}
	for _, v := range values {
		if p, ok := m.got[v]; ok {
			ps[p] = true
		}
	}
	return ps
}

func (m *member) has(v string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.got[v]
	return ok
}

// sendUntil sends numbered messages until cond holds for the values sent
// since the call, failing the test after testTimeout.
func sendUntil(t *testing.T, p *Producer, topic, tag string, cond func(sent []string) bool) []string {
	t.Helper()
	var sent []string
	deadline := time.Now().Add(testTimeout)
	for i := 0; ; i++ {
		v := tag + strconv.Itoa(i)
		send(t, p, topic, v)
		sent = append(sent, v)
		if cond(sent) {
			return sent
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not reached after %d messages", tag, len(sent))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRebalanceOnJoinAndLeave(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, map[string]TopicConfig{"shared": {Partitions: 2}})
	p := newProducer(t, cfg) // round-robin: messages alternate partitions
	a := startMember(t, newConsumer(t, cfg, "shared", "g"))

	// Alone, a reads both partitions.
	sendUntil(t, p, "shared", "alone", func(sent []string) bool { return len(a.partitions(sent)) == 2 })

	// b joins: the group rebalances to one partition each.
	b := startMember(t, newConsumer(t, cfg, "shared", "g"))
	sendUntil(t, p, "shared", "pair", func(sent []string) bool {
		last := sent[max(0, len(sent)-4):]
		pa, pb := a.partitions(last), b.partitions(last)
		return len(last) == 4 && len(pa) == 1 && len(pb) == 1
	})

	// b leaves: a takes both partitions again.
	b.c.Close()
	<-b.done
	sendUntil(t, p, "shared", "left", func(sent []string) bool {
		return len(sent) >= 4 && len(a.partitions(sent[len(sent)-4:])) == 2
	})
	// Nothing sent was lost: every value reached a or b.
	a.c.Close()
	<-a.done
}

func TestCloseSemantics(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	c := newConsumer(t, cfg, "invoker0", "invoker0")
	send(t, p, "invoker0", "x")
	m := take(t, c)

	// Fetch honours ctx.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Fetch(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with a cancelled ctx = %v", err)
	}
	nothingPending(t, c, 300*time.Millisecond)

	// Close wakes a blocked Fetch with ErrClosed.
	errc := make(chan error, 1)
	go func() {
		_, err := c.Fetch(context.Background())
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // let Fetch block (the result is the same if it has not yet)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, messaging.ErrClosed) || !errors.Is(err, entity.ErrUnavailable) {
			t.Fatalf("blocked Fetch after Close = %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Close did not wake Fetch")
	}
	if _, err := c.Fetch(context.Background()); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Fetch after Close = %v", err)
	}
	if err := c.Commit(context.Background(), m); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), "invoker0", []byte("y")); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Send after Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestConcurrentSendsAndClose(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				err := p.Send(context.Background(), "invoker0", []byte(fmt.Sprintf("%d-%d", g, i)))
				switch {
				case err == nil:
					mu.Lock()
					ok++
					mu.Unlock()
				case errors.Is(err, messaging.ErrClosed):
					return
				default:
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	p.Close()
	wg.Wait()
	// Every Send that succeeded is on the topic.
	c := newConsumer(t, cfg, "invoker0", "check")
	for range ok {
		take(t, c)
	}
	nothingPending(t, c, time.Second)
	t.Logf("%d sends succeeded before Close", ok)
}

func TestOversizeMessages(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	cfg.MaxMessageBytes = 4096
	ensure(t, cfg, map[string]TopicConfig{"small": {MaxMessageBytes: 1000}, "health": {}})
	p := newProducer(t, cfg)

	// Above the producer's limit: rejected before the broker.
	err := p.Send(context.Background(), "health", make([]byte, 4097))
	if !errors.Is(err, entity.ErrTooLarge) {
		t.Fatalf("Send above MaxMessageBytes = %v", err)
	}
	// Within the producer's limit but above the topic's: the broker
	// rejects it.
	err = p.Send(context.Background(), "small", make([]byte, 2000))
	if !errors.Is(err, entity.ErrTooLarge) {
		t.Fatalf("Send above the topic's max.message.bytes = %v", err)
	}
	// The producer still works.
	send(t, p, "small", "fits")
	send(t, p, "health", string(make([]byte, 4096)))
	c := newConsumer(t, cfg, "small", "g")
	if m := take(t, c); string(m.Value) != "fits" {
		t.Fatalf("got %q", m.Value)
	}
}

func TestSendToUnknownTopic(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	cfg.SendTimeout = time.Second
	p := newProducer(t, cfg)
	err := p.Send(context.Background(), "invoker9", []byte("x"))
	if !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Send to a topic nobody created = %v; want ErrUnavailable", err)
	}
	t.Log(err)
	if err := p.Send(context.Background(), "bad topic", []byte("x")); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Send to an illegal topic name = %v", err)
	}
	// Once created, the same producer reaches it (its metadata refreshes).
	ensure(t, cfg, InvokerTopics(9))
	deadline := time.Now().Add(testTimeout)
	for {
		err := p.Send(context.Background(), "invoker9", []byte("x"))
		if err == nil {
			break
		}
		if !errors.Is(err, entity.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Send after creating the topic = %v", err)
		}
	}
}

func TestManyConcurrentSendersKeepTheirOrder(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	const senders, each = 40, 25 // beyond batchAbove: both writers are used
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := p.Send(context.Background(), "invoker0", []byte(fmt.Sprintf("%d-%d", g, i))); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("writes: unbatched %d, batched %d", p.single.Stats().Writes, p.batching.Stats().Writes)
	c := newConsumer(t, cfg, "invoker0", "check")
	next := make([]int, senders)
	for range senders * each {
		m := take(t, c)
		var g, i int
		if _, err := fmt.Sscanf(string(m.Value), "%d-%d", &g, &i); err != nil || g < 0 || g >= senders {
			t.Fatalf("unexpected message %q", m.Value)
		}
		if i != next[g] {
			t.Fatalf("sender %d: got message %d, want %d (lost, duplicated or reordered)", g, i, next[g])
		}
		next[g]++
	}
	nothingPending(t, c, time.Second)
}

func TestConsumerStartedBeforeItsTopic(t *testing.T) {
	// No auto-creation: the topic appears only when EnsureTopics runs.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := testConfig(t, cluster)
	c := newConsumer(t, cfg, "invoker0", "invoker0")
	type result struct {
		m   messaging.Message
		err error
	}
	got := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		m, err := c.Fetch(ctx)
		got <- result{m, err}
	}()
	// Fetch waits for the topic; a cancelled one returns ctx's error.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := newConsumer(t, cfg, "invoker0", "other").Fetch(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch before the topic exists = %v", err)
	}
	cancel()
	ensure(t, cfg, InvokerTopics(0))
	send(t, newProducer(t, cfg), "invoker0", "x")
	r := <-got
	if r.err != nil || string(r.m.Value) != "x" {
		t.Fatalf("Fetch = %q, %v", r.m.Value, r.err)
	}
	// Close wakes a Fetch waiting for a topic.
	waiting := newConsumer(t, cfg, "invoker1", "invoker1")
	errc := make(chan error, 1)
	go func() {
		_, err := waiting.Fetch(context.Background())
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	waiting.Close()
	if err := <-errc; !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Fetch waiting for its topic after Close = %v", err)
	}
	if err := waiting.Commit(context.Background(), messaging.Message{Topic: "invoker1"}); !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
}
