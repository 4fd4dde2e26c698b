package kafka

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// within runs f and fails the test if it has not returned after testTimeout
// (a hang), returning how long it took.
func within(t *testing.T, what string, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("%s did not return within %v", what, testTimeout)
	}
	return time.Since(start)
}

func clusterPort(t *testing.T, c *kfake.Cluster) int {
	t.Helper()
	_, port, err := net.SplitHostPort(c.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBrokerDownAndBack(t *testing.T) {
	dir := t.TempDir()
	cluster := newCluster(t, kfake.DataDir(dir))
	port := clusterPort(t, cluster)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	c := newConsumer(t, cfg, "invoker0", "invoker0")
	send(t, p, "invoker0", "before")
	if m := take(t, c); string(m.Value) != "before" {
		t.Fatalf("got %q", m.Value)
	}

	cluster.Close()

	// A connected producer fails with ErrUnavailable, within SendTimeout.
	var err error
	d := within(t, "Send with the broker down", func() {
		err = p.Send(context.Background(), "invoker0", []byte("lost"))
	})
	if !errors.Is(err, entity.ErrUnavailable) || errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("Send with the broker down = %v; want ErrUnavailable", err)
	}
	t.Logf("connected producer: %v after %v", err, d.Round(time.Millisecond))

	// So does a producer that never reached the broker.
	fresh := newProducer(t, cfg)
	d = within(t, "first Send with the broker down", func() {
		err = fresh.Send(context.Background(), "invoker0", []byte("lost"))
	})
	if !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("first Send with the broker down = %v; want ErrUnavailable", err)
	}
	t.Logf("fresh producer: %v after %v", err, d.Round(time.Millisecond))

	// A caller's deadline shorter than SendTimeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	within(t, "Send with a short deadline", func() { err = fresh.Send(ctx, "invoker0", []byte("lost")) })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Send with a short deadline = %v", err)
	}

	// A consumer reports ErrUnavailable (never ErrClosed) until its ctx
	// ends.
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	for {
		m, err := c.Fetch(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if !errors.Is(err, entity.ErrUnavailable) || errors.Is(err, messaging.ErrClosed) {
			t.Fatalf("Fetch with the broker down = %q, %v", m.Value, err)
		}
	}
	cancel()

	// The broker returns (same port, same data): sends succeed again and
	// the consumer resumes after its committed offset.
	back, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(100*time.Millisecond), kfake.DataDir(dir), kfake.Ports(port))
	if err != nil {
		t.Fatalf("restart kfake on port %d: %v", port, err)
	}
	t.Cleanup(back.Close)
	deadline := time.Now().Add(testTimeout)
	for {
		err := p.Send(context.Background(), "invoker0", []byte("after"))
		if err == nil {
			break
		}
		if !errors.Is(err, entity.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Send after the broker returned = %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := take(t, c); string(m.Value) != "after" {
		t.Fatalf("after the restart the consumer got %q, want %q", m.Value, "after")
	}
}

func TestCloseWithBrokerDown(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ensure(t, cfg, InvokerTopics(0))
	p := newProducer(t, cfg)
	c := newConsumer(t, cfg, "invoker0", "invoker0")
	send(t, p, "invoker0", "x")
	take(t, c)
	cluster.Close()

	errc := make(chan error, 1)
	go func() {
		_, err := c.Fetch(context.Background())
		errc <- err
	}()
	d := within(t, "Consumer.Close with the broker down", func() { c.Close() })
	if err := <-errc; !errors.Is(err, messaging.ErrClosed) {
		t.Fatalf("blocked Fetch after Close = %v", err)
	}
	t.Logf("Consumer.Close took %v", d.Round(time.Millisecond))
	d = within(t, "Producer.Close with the broker down", func() { p.Close() })
	t.Logf("Producer.Close took %v", d.Round(time.Millisecond))
}
