package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// Read backoffs of a consumer after a failed fetch (kafka-go's defaults
// are 100 ms–1 s).
const (
	readBackoffMin = 50 * time.Millisecond
	readBackoffMax = 500 * time.Millisecond
)

// Consumer reads one topic as a member of one Kafka consumer group. Fetch,
// Commit and Close are safe for concurrent use. Create it with NewConsumer.
type Consumer struct {
	cfg   Config
	topic string // unprefixed, as the caller named it
	full  string // on the wire
	rc    kafkago.ReaderConfig

	mu sync.Mutex
	// r is created once the topic exists: a kafka-go group reader that
	// joins before its topic exists is assigned no partitions until the
	// next rebalance (and watching partitions instead makes it rejoin in
	// a tight loop while the topic is missing).
	r *kafkago.Reader

	closeOnce sync.Once
	done      chan struct{}
}

var _ messaging.Consumer = (*Consumer)(nil)

// NewConsumer returns a member of consumer group (prefixed like topics) on
// topic (unprefixed). It joins the group at the first Fetch, once the topic
// exists (Fetch waits for it). A group that
// has no committed offset starts at the earliest retained message. Its
// error wraps entity.ErrInvalid when cfg, topic or group cannot work.
func NewConsumer(cfg Config, topic, group string) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	full := cfg.fullName(topic)
	if err := validTopicName(full); err != nil {
		return nil, entity.Invalidf("kafka: %v", err)
	}
	if group == "" {
		return nil, entity.Invalidf("kafka: empty consumer group id")
	}
	attrs := []any{"component", "kafka-consumer", "topic", full, "group", cfg.fullName(group)}
	rc := kafkago.ReaderConfig{
		Brokers:                cfg.Brokers,
		GroupID:                cfg.fullName(group),
		Topic:                  full,
		Dialer:                 &kafkago.Dialer{ClientID: cfg.ClientID, Timeout: cfg.DialTimeout, DualStack: true},
		MinBytes:               1,
		MaxBytes:               max(2*cfg.MaxMessageBytes, 1<<20),
		MaxWait:                cfg.ReadMaxWait,
		HeartbeatInterval:      cfg.HeartbeatInterval,
		SessionTimeout:         cfg.SessionTimeout,
		RebalanceTimeout:       cfg.RebalanceTimeout,
		JoinGroupBackoff:       joinGroupBackoff,
		CommitInterval:         0, // synchronous commits
		WatchPartitionChanges:  true,
		PartitionWatchInterval: time.Second,
		StartOffset:            kafkago.FirstOffset,
		ReadBackoffMin:         readBackoffMin,
		ReadBackoffMax:         readBackoffMax,
		Logger:                 debugLogger(cfg.Logger, attrs...),
		ErrorLogger:            errorLogger(cfg.Logger, attrs...),
	}
	// kafka.NewReader panics on a configuration it rejects.
	if err := rc.Validate(); err != nil {
		return nil, entity.Invalidf("kafka: consumer of %s: %v", full, err)
	}
	return &Consumer{cfg: cfg, topic: topic, full: full, rc: rc, done: make(chan struct{})}, nil
}

// Bounds of the poll for the topic's existence before the first fetch.
const (
	topicPollMin = 100 * time.Millisecond
	topicPollMax = time.Second
)

// reader returns the kafka-go reader, creating it once the topic exists;
// until then it waits (polling the cluster metadata) for the topic, ctx or
// Close.
func (c *Consumer) reader(ctx context.Context) (*kafkago.Reader, error) {
	c.mu.Lock()
	r := c.r
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	tr := c.cfg.transport()
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: c.cfg.addr(), Timeout: c.cfg.RequestTimeout, Transport: tr}
	wait := topicPollMin
	for logged := false; ; {
		exists, err := topicExists(ctx, client, c.full)
		if exists {
			break
		}
		if !logged {
			logged = true
			c.cfg.Logger.Info("kafka: waiting for the topic to exist", "topic", c.full, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.done:
			t.Stop()
			return nil, messaging.ErrClosed
		}
		wait = min(2*wait, topicPollMax)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := closedErr(c.done); err != nil {
		return nil, err
	}
	if c.r == nil {
		c.r = kafkago.NewReader(c.rc)
	}
	return c.r, nil
}

// current returns the reader if it was created.
func (c *Consumer) current() *kafkago.Reader {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r
}

// Fetch returns the group's next message on this member's partitions,
// waiting until one arrives, ctx ends (ctx's error), the consumer closes
// (messaging.ErrClosed) or the group cannot be joined (an error wrapping
// entity.ErrUnavailable; retry). Message.Topic is the unprefixed topic name.
func (c *Consumer) Fetch(ctx context.Context) (messaging.Message, error) {
	if err := closedErr(c.done); err != nil {
		return messaging.Message{}, err
	}
	r, err := c.reader(ctx)
	if err != nil {
		return messaging.Message{}, err
	}
	m, err := r.FetchMessage(ctx)
	if err != nil {
		if cerr := closedErr(c.done); cerr != nil || errors.Is(err, io.EOF) {
			return messaging.Message{}, messaging.ErrClosed
		}
		if cerr := ctx.Err(); cerr != nil {
			return messaging.Message{}, cerr
		}
		return messaging.Message{}, entity.Errorf(entity.ErrUnavailable, "kafka: fetch from topic %s: %v", c.topic, err)
	}
	return messaging.Message{Topic: c.topic, Partition: m.Partition, Offset: m.Offset, Value: m.Value}, nil
}

// Commit synchronously records m (and everything before it on its
// partition) as taken by the group.
func (c *Consumer) Commit(ctx context.Context, m messaging.Message) error {
	if err := closedErr(c.done); err != nil {
		return err
	}
	if m.Topic != c.topic {
		return entity.Invalidf("kafka: commit of a message of topic %q on a consumer of %q", m.Topic, c.topic)
	}
	if m.Offset < 0 || m.Partition < 0 {
		return entity.Invalidf("kafka: commit of partition %d offset %d", m.Partition, m.Offset)
	}
	r := c.current()
	if r == nil {
		return entity.Invalidf("kafka: commit of offset %d on topic %s before any fetch", m.Offset, c.topic)
	}
	err := r.CommitMessages(ctx, kafkago.Message{Topic: c.full, Partition: m.Partition, Offset: m.Offset})
	if err == nil {
		return nil
	}
	if cerr := closedErr(c.done); cerr != nil {
		return cerr
	}
	switch classify(err) {
	case kindClosed:
		return messaging.ErrClosed
	case kindCanceled:
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("kafka: commit on topic %s: %w", c.topic, cerr)
		}
	}
	return entity.Errorf(entity.ErrUnavailable, "kafka: commit of offset %d on topic %s: %v", m.Offset, c.topic, err)
}

// Close leaves the group (its other members rebalance at once), wakes a
// blocked Fetch and makes later calls return messaging.ErrClosed. It is
// idempotent.
func (c *Consumer) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.mu.Lock()
		r := c.r
		c.mu.Unlock()
		if r != nil {
			err = r.Close()
		}
	})
	return err
}
