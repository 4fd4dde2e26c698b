package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// testTimeout bounds every blocking call of a test: reaching it is a
// failure (a hang), never a measurement.
const testTimeout = 20 * time.Second

// prefixSeq makes topic prefixes unique within a test binary.
var prefixSeq atomic.Int64

// newCluster starts an in-process Kafka-protocol broker, closed at the end
// of the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig is a configuration for c with fast group timings and a
// unique topic prefix, logging warnings to the test's output.
func testConfig(t testing.TB, c *kfake.Cluster) Config {
	return Config{
		Brokers:           c.ListenAddrs(),
		TopicPrefix:       fmt.Sprintf("t%d-", prefixSeq.Add(1)),
		ClientID:          "gowhisk-test",
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    2 * time.Second,
		RebalanceTimeout:  3 * time.Second,
		SendTimeout:       3 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func ensure(t testing.TB, cfg Config, topics map[string]TopicConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := EnsureTopics(ctx, cfg, topics); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
}

func newProducer(t testing.TB, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newConsumer(t testing.TB, cfg Config, topic, group string) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg, topic, group)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, p messaging.Producer, topic, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := p.Send(ctx, topic, []byte(v)); err != nil {
		t.Fatalf("Send(%s, %q): %v", topic, v, err)
	}
}

// take fetches the next message and commits it at once, as OpenWhisk's
// consumers do (at-most-once).
func take(t testing.TB, c messaging.Consumer) messaging.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	m, err := c.Fetch(ctx)
	// A consumer loop retries ErrUnavailable (a broker briefly away).
	for retryable(err) {
		t.Logf("Fetch (retrying): %v", err)
		m, err = c.Fetch(ctx)
	}
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if err := c.Commit(ctx, m); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return m
}

// nothingPending asserts that no message arrives within wait.
func nothingPending(t testing.TB, c messaging.Consumer, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if m, err := c.Fetch(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch = %q (partition %d offset %d), %v; want nothing pending", m.Value, m.Partition, m.Offset, err)
	}
}

// retryable reports whether a consumer loop retries err.
func retryable(err error) bool {
	return errors.Is(err, entity.ErrUnavailable) && !errors.Is(err, messaging.ErrClosed)
}
