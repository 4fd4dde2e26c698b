// Package messaging is the seam between controllers and invokers: topics of
// byte messages with at-most-once consumers, and the JSON messages OpenWhisk
// sends on them (reference §5.5). Adapters: lean (in-process, standalone)
// and kafka (distributed).
package messaging

import (
	"context"
	"strconv"
)

// Message is one message read from a topic.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Value     []byte
}

// Producer sends messages to topics.
type Producer interface {
	// Send publishes msg to topic and returns once the broker (or the
	// in-process queue) has accepted it. Errors wrap entity.ErrUnavailable
	// when the transport cannot accept messages, entity.ErrTooLarge when
	// msg exceeds the transport's size limit.
	Send(ctx context.Context, topic string, msg []byte) error
	Close() error
}

// Consumer reads one topic as a member of one consumer group.
type Consumer interface {
	// Fetch blocks until a message is available or ctx ends.
	Fetch(ctx context.Context) (Message, error)
	// Commit records that m (and everything before it) was taken.
	Commit(ctx context.Context, m Message) error
	Close() error
}

// Topic names (without the configurable prefix).
const (
	TopicHealth            = "health"
	TopicCacheInvalidation = "cacheInvalidation"
)

// InvokerTopic is the topic an invoker consumes: "invoker<N>".
func InvokerTopic(n int) string { return "invoker" + strconv.Itoa(n) }

// CompletedTopic is the topic a controller reads acks from: "completed<N>".
func CompletedTopic(controller string) string { return "completed" + controller }
