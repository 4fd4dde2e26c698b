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
	// Decoded is the sender's value when an in-process transport delivered
	// it without encoding it (see ValueSender); Value is then nil. Read
	// messages with ActivationFrom and AckFrom, which handle both forms.
	Decoded any
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

// ValueSender is implemented by in-process producers (lean) that can hand
// a message to its consumer as the decoded value, sparing the encoding and
// the decoding: *ActivationMessage on invoker topics, *Ack on completed
// topics. The sender must not modify v afterwards; consumers only read it.
// size estimates the encoded size, for the transport's byte bounds.
// SendActivation and SendAck use it when the producer has it.
type ValueSender interface {
	SendValue(ctx context.Context, topic string, v any, size int) error
}

// SendActivation publishes m on topic: as the value on a ValueSender, else
// in its JSON form.
func SendActivation(ctx context.Context, p Producer, topic string, m *ActivationMessage) error {
	if vs, ok := p.(ValueSender); ok {
		return vs.SendValue(ctx, topic, m, m.SizeHint())
	}
	b, err := m.AppendJSON(make([]byte, 0, m.SizeHint()))
	if err != nil {
		return err
	}
	return p.Send(ctx, topic, b)
}

// SendAck publishes a on topic: as the value on a ValueSender, else in its
// JSON form.
func SendAck(ctx context.Context, p Producer, topic string, a *Ack) error {
	if vs, ok := p.(ValueSender); ok {
		return vs.SendValue(ctx, topic, a, a.SizeHint())
	}
	b, err := a.AppendJSON(make([]byte, 0, a.SizeHint()))
	if err != nil {
		return err
	}
	return p.Send(ctx, topic, b)
}

// ActivationFrom returns the ActivationMessage m carries: its decoded
// value, or its JSON decoded and checked by DecodeActivationMessage.
func ActivationFrom(m *Message) (*ActivationMessage, error) {
	if am, ok := m.Decoded.(*ActivationMessage); ok && am != nil {
		return am, nil
	}
	return DecodeActivationMessage(m.Value)
}

// AckFrom returns the acknowledgement m carries: its decoded value, or its
// JSON decoded and checked by DecodeAck.
func AckFrom(m *Message) (Ack, error) {
	if a, ok := m.Decoded.(*Ack); ok && a != nil {
		return *a, nil
	}
	return DecodeAck(m.Value)
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
