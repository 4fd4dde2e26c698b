// Package kafka is the distributed messaging adapter: the Producer and
// Consumer seams of package messaging over Apache Kafka, with
// github.com/segmentio/kafka-go (reference §5.4–5.6).
//
// Semantics (the same contracts as the in-process adapter, messaging/lean):
//   - Topic names given to Send, NewConsumer and EnsureTopics are the
//     unprefixed names of package messaging ("invoker0", "completed0",
//     "health", "cacheInvalidation"); Config.TopicPrefix is prepended on
//     the wire, and to consumer group ids too, so that two deployments with
//     different prefixes can share a cluster. Message.Topic is the
//     unprefixed name.
//   - Send returns once the partition leader acknowledged the message
//     (acks=1). A Send with few others in progress is written at once;
//     beyond 16 concurrent Sends they share batches of up to
//     Config.BatchTimeout (kafka-go's 1 s default is wrong for an RPC-like
//     workload; see Producer). Each producer has its own kafka-go
//     Transport (the shared default caches metadata ~6 s).
//     Errors wrap entity.ErrTooLarge for a message above
//     Config.MaxMessageBytes or the topic's max.message.bytes, and
//     entity.ErrUnavailable when no broker accepts the message within
//     Config.SendTimeout (broker down, unknown topic, leader election…).
//     When the caller's ctx ends first, Send returns an error wrapping
//     ctx.Err(); the message may still be delivered afterwards.
//   - A consumer is one member of a Kafka consumer group. A new group
//     starts at the earliest retained offset (auto.offset.reset=earliest).
//     Commit is synchronous; callers commit right after each Fetch
//     (at-most-once, §5.6), so a restarted member of the group resumes
//     after the last committed message: fetched-and-committed messages are
//     not re-delivered, messages that were never fetched are not lost.
//   - Fetch blocks until a message arrives or ctx ends (ctx's error). While
//     the group coordinator is unreachable it returns an error wrapping
//     entity.ErrUnavailable each time kafka-go fails to join the group
//     (paced by its join backoff, 250 ms); a consumer loop retries such
//     errors and ends on messaging.ErrClosed. It resumes by itself when the
//     brokers return.
//   - Close on a producer or consumer makes later (and blocked) calls
//     return messaging.ErrClosed, which wraps entity.ErrUnavailable.
//     Producer.Close flushes pending messages first; Consumer.Close leaves
//     the group so that the others rebalance at once.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// Defaults of Config.
const (
	DefaultClientID          = "gowhisk"
	DefaultBatchTimeout      = 50 * time.Microsecond
	DefaultMaxMessageBytes   = 1<<20 + 6068 // reference §5.4: completed<N>'s max.message.bytes
	DefaultReadMaxWait       = 250 * time.Millisecond
	DefaultHeartbeatInterval = time.Second
	DefaultSessionTimeout    = 10 * time.Second
	DefaultRebalanceTimeout  = 10 * time.Second
	DefaultSendTimeout       = 5 * time.Second
	DefaultDialTimeout       = 3 * time.Second
	DefaultMetadataTTL       = time.Second
	DefaultRequestTimeout    = 10 * time.Second

	// joinGroupBackoff is how long a consumer waits before retrying a
	// failed group join (kafka-go's default is 5 s).
	joinGroupBackoff = 250 * time.Millisecond
	// writeMaxAttempts and the write backoffs bound kafka-go's internal
	// retries of one produce batch (its defaults are 10 attempts with
	// 100 ms–1 s backoff).
	writeMaxAttempts = 4
	writeBackoffMin  = 20 * time.Millisecond
	writeBackoffMax  = 250 * time.Millisecond
)

// Config configures producers, consumers and topic creation. Zero values
// take the defaults above.
type Config struct {
	// Brokers are the bootstrap broker addresses ("host:port"); required.
	Brokers []string
	// TopicPrefix is prepended to every topic name and group id.
	TopicPrefix string
	// ClientID identifies this process to the brokers.
	ClientID string
	// BatchTimeout is how long a producer waits to fill a batch when many
	// Sends are in progress (see Producer).
	BatchTimeout time.Duration
	// MaxMessageBytes is the largest message Send accepts (larger ones fail
	// with entity.ErrTooLarge without reaching the broker).
	MaxMessageBytes int
	// ReadMaxWait is how long a fetch request waits at the broker for data.
	ReadMaxWait time.Duration
	// HeartbeatInterval, SessionTimeout and RebalanceTimeout are the
	// consumer group timings: a member that stops heartbeating is evicted
	// after SessionTimeout, and a join waits at most RebalanceTimeout for
	// the other members.
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
	RebalanceTimeout  time.Duration
	// SendTimeout bounds one Send (including kafka-go's retries) when the
	// caller's ctx allows longer; past it Send fails with ErrUnavailable.
	SendTimeout time.Duration
	// DialTimeout bounds connecting to a broker.
	DialTimeout time.Duration
	// MetadataTTL is how long a producer caches cluster metadata (how soon
	// it sees a topic created elsewhere).
	MetadataTTL time.Duration
	// RequestTimeout bounds one admin request (topic creation, metadata).
	RequestTimeout time.Duration
	// Logger receives kafka-go's diagnostics (debug) and errors (warn);
	// nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with zero values replaced by the defaults, or an
// ErrInvalid error when it cannot work.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Brokers) == 0 {
		return cfg, entity.Invalidf("kafka: no broker addresses configured")
	}
	for _, b := range cfg.Brokers {
		if strings.TrimSpace(b) == "" {
			return cfg, entity.Invalidf("kafka: empty broker address in %q", cfg.Brokers)
		}
	}
	if cfg.TopicPrefix != "" {
		if err := validTopicName(cfg.TopicPrefix); err != nil {
			return cfg, entity.Invalidf("kafka: topic prefix %q: %v", cfg.TopicPrefix, err)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	def(&cfg.BatchTimeout, DefaultBatchTimeout)
	def(&cfg.ReadMaxWait, DefaultReadMaxWait)
	def(&cfg.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&cfg.SessionTimeout, DefaultSessionTimeout)
	def(&cfg.RebalanceTimeout, DefaultRebalanceTimeout)
	def(&cfg.SendTimeout, DefaultSendTimeout)
	def(&cfg.DialTimeout, DefaultDialTimeout)
	def(&cfg.MetadataTTL, DefaultMetadataTTL)
	def(&cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.HeartbeatInterval >= cfg.SessionTimeout {
		return cfg, entity.Invalidf("kafka: heartbeat interval %v must be shorter than the session timeout %v", cfg.HeartbeatInterval, cfg.SessionTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// fullName is topic or group name with the configured prefix.
func (cfg Config) fullName(name string) string { return cfg.TopicPrefix + name }

func (cfg Config) addr() net.Addr { return kafkago.TCP(cfg.Brokers...) }

// transport returns a new kafka-go transport (never the shared default).
func (cfg Config) transport() *kafkago.Transport {
	return &kafkago.Transport{
		ClientID:    cfg.ClientID,
		DialTimeout: cfg.DialTimeout,
		MetadataTTL: cfg.MetadataTTL,
		IdleTimeout: 5 * time.Minute,
	}
}

// debugLogger and errorLogger adapt slog to kafka-go's Logger.
func debugLogger(l *slog.Logger, attrs ...any) kafkago.Logger {
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return kafkago.LoggerFunc(func(format string, args ...any) {
		l.Debug(fmt.Sprintf(format, args...), attrs...)
	})
}

func errorLogger(l *slog.Logger, attrs ...any) kafkago.Logger {
	return kafkago.LoggerFunc(func(format string, args ...any) {
		l.Warn(fmt.Sprintf(format, args...), attrs...)
	})
}

// errKind is what an error from kafka-go means to a caller.
type errKind int

const (
	kindUnavailable  errKind = iota // the cluster did not accept the request; retry later
	kindUnknownTopic                // the topic is not in the (possibly stale) metadata
	kindTooLarge                    // the message exceeds a size limit
	kindInvalid                     // the request itself is wrong (bad topic name or config)
	kindExists                      // the topic already exists
	kindClosed                      // the kafka-go writer or reader is closed
	kindCanceled                    // the caller's ctx ended
)

// classify maps an error of kafka-go (possibly wrapped, or a WriteErrors
// list) to its kind.
func classify(err error) errKind {
	var werrs kafkago.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil {
				return classify(e)
			}
		}
	}
	var kerr kafkago.Error
	var tooLarge kafkago.MessageTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return kindTooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kindCanceled
	case errors.Is(err, io.ErrClosedPipe):
		return kindClosed
	case errors.As(err, &kerr):
		switch kerr {
		case kafkago.MessageSizeTooLarge, kafkago.RecordListTooLarge:
			return kindTooLarge
		case kafkago.TopicAlreadyExists:
			return kindExists
		case kafkago.UnknownTopicOrPartition:
			return kindUnknownTopic
		case kafkago.InvalidTopic, kafkago.InvalidPartitionNumber, kafkago.InvalidReplicationFactor,
			kafkago.InvalidReplicaAssignment, kafkago.InvalidConfiguration, kafkago.PolicyViolation,
			kafkago.InvalidRequest:
			return kindInvalid
		}
	}
	return kindUnavailable
}

// closedErr returns messaging.ErrClosed when done is closed, else nil.
func closedErr(done <-chan struct{}) error {
	select {
	case <-done:
		return messaging.ErrClosed
	default:
		return nil
	}
}
