package kafka

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// messageOverhead is what kafka-go adds to a value when it checks a
// message against Writer.BatchBytes (length fields, attributes, timestamp).
const messageOverhead = 64

// Producer sends messages to Kafka topics. It is safe for concurrent use;
// concurrent Sends share batches. Create it with NewProducer.
type Producer struct {
	cfg Config
	w   *kafkago.Writer
	tr  *kafkago.Transport

	closeOnce sync.Once
	done      chan struct{}
}

// NewProducer returns a producer for the cluster of cfg. It does not
// connect until the first Send. Its error wraps entity.ErrInvalid when cfg
// cannot work (no brokers, bad prefix).
func NewProducer(cfg Config) (*Producer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tr := cfg.transport()
	w := &kafkago.Writer{
		Addr:            cfg.addr(),
		Balancer:        &kafkago.RoundRobin{},
		MaxAttempts:     writeMaxAttempts,
		WriteBackoffMin: writeBackoffMin,
		WriteBackoffMax: writeBackoffMax,
		BatchBytes:      int64(cfg.MaxMessageBytes) + messageOverhead,
		BatchTimeout:    cfg.BatchTimeout,
		ReadTimeout:     cfg.RequestTimeout,
		WriteTimeout:    cfg.RequestTimeout,
		RequiredAcks:    kafkago.RequireOne,
		Transport:       tr,
		ErrorLogger:     errorLogger(cfg.Logger, "component", "kafka-producer"),
	}
	return &Producer{cfg: cfg, w: w, tr: tr, done: make(chan struct{})}, nil
}

var _ messaging.Producer = (*Producer)(nil)

// Send publishes a copy of msg to topic (unprefixed) and returns once the
// partition leader has it. See the package comment for its errors.
func (p *Producer) Send(ctx context.Context, topic string, msg []byte) error {
	if err := closedErr(p.done); err != nil {
		return err
	}
	if len(msg) > p.cfg.MaxMessageBytes {
		return entity.Errorf(entity.ErrTooLarge, "message of %d bytes exceeds the limit of %d bytes", len(msg), p.cfg.MaxMessageBytes)
	}
	full := p.cfg.fullName(topic)
	if err := validTopicName(full); err != nil {
		return entity.Invalidf("kafka: %v", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The writer may still hold the value after WriteMessages returned
	// (when ctx ends first): never let it see the caller's buffer.
	m := kafkago.Message{Topic: full, Value: slices.Clone(msg)}
	if m.Value == nil {
		m.Value = []byte{}
	}
	sctx, cancel := context.WithTimeout(ctx, p.cfg.SendTimeout)
	defer cancel()
	checked := false
	for {
		err := p.w.WriteMessages(sctx, m)
		if err == nil {
			return nil
		}
		if classify(err) != kindUnknownTopic || sctx.Err() != nil {
			return p.sendError(ctx, topic, len(msg), err)
		}
		// The writer's metadata may predate the topic's creation (it is
		// refreshed every Config.MetadataTTL): ask the cluster once, fail
		// at once if the topic really does not exist, else retry until the
		// writer sees it.
		if !checked {
			checked = true
			exists, cerr := p.topicExists(sctx, full)
			if cerr == nil && !exists {
				return entity.Errorf(entity.ErrUnavailable, "kafka: topic %s does not exist (it is created when its consumer starts)", full)
			}
		}
		t := time.NewTimer(unknownTopicRetry)
		select {
		case <-t.C:
		case <-sctx.Done():
			t.Stop()
			return p.sendError(ctx, topic, len(msg), err)
		case <-p.done:
			t.Stop()
			return messaging.ErrClosed
		}
	}
}

// unknownTopicRetry is how often Send retries a topic its writer does not
// know yet.
const unknownTopicRetry = 50 * time.Millisecond

// topicExists asks the cluster, over fresh metadata (a new transport: the
// writer's caches it), whether topic (prefixed) exists. It never asks the
// broker to create it.
func (p *Producer) topicExists(ctx context.Context, topic string) (bool, error) {
	tr := p.cfg.transport()
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: p.cfg.addr(), Timeout: p.cfg.RequestTimeout, Transport: tr}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, err
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			return t.Error == nil, nil
		}
	}
	return false, nil
}

// sendError maps an error of WriteMessages to the seam's error kinds.
func (p *Producer) sendError(ctx context.Context, topic string, size int, err error) error {
	if cerr := closedErr(p.done); cerr != nil {
		return cerr
	}
	switch classify(err) {
	case kindTooLarge:
		return entity.Errorf(entity.ErrTooLarge, "kafka: message of %d bytes to topic %s is too large for the broker: %v", size, topic, err)
	case kindClosed:
		return messaging.ErrClosed
	case kindCanceled:
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("kafka: send to topic %s: %w", topic, cerr)
		}
		return entity.Errorf(entity.ErrUnavailable, "kafka: no broker of %v accepted a message to topic %s within %v", p.cfg.Brokers, topic, p.cfg.SendTimeout)
	case kindInvalid:
		return entity.Invalidf("kafka: send to topic %s: %v", topic, err)
	default:
		return entity.Errorf(entity.ErrUnavailable, "kafka: send to topic %s on %v: %v", topic, p.cfg.Brokers, err)
	}
}

// Close flushes the messages of Sends in progress, then makes later Sends
// return messaging.ErrClosed. It is idempotent.
func (p *Producer) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.done)
		err = p.w.Close()
		p.tr.CloseIdleConnections()
	})
	return err
}
