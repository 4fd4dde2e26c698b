package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// Topic settings common to every topic of reference §5.4.
const (
	DefaultSegmentBytes   = 536870912
	DefaultRetentionBytes = 1073741824
	// maxTopicNameLength is Kafka's limit on a topic name.
	maxTopicNameLength = 249
)

// TopicConfig is how a topic is created. Zero fields are left to the
// broker's defaults, except Partitions and ReplicationFactor (default 1).
type TopicConfig struct {
	Partitions        int
	ReplicationFactor int
	RetentionMs       int64 // retention.ms
	RetentionBytes    int64 // retention.bytes
	SegmentBytes      int64 // segment.bytes
	MaxMessageBytes   int   // max.message.bytes
}

// configEntries returns the topic-level configs to send.
func (tc TopicConfig) configEntries() []kafkago.ConfigEntry {
	var e []kafkago.ConfigEntry
	add := func(name string, v int64) {
		if v > 0 {
			e = append(e, kafkago.ConfigEntry{ConfigName: name, ConfigValue: strconv.FormatInt(v, 10)})
		}
	}
	add("retention.ms", tc.RetentionMs)
	add("retention.bytes", tc.RetentionBytes)
	add("segment.bytes", tc.SegmentBytes)
	add("max.message.bytes", int64(tc.MaxMessageBytes))
	return e
}

// DefaultTopicConfig returns the configuration of reference §5.4 for an
// unprefixed OpenWhisk topic name, and false for a name it does not know.
func DefaultTopicConfig(topic string) (TopicConfig, bool) {
	tc := TopicConfig{Partitions: 1, ReplicationFactor: 1, RetentionBytes: DefaultRetentionBytes, SegmentBytes: DefaultSegmentBytes}
	switch {
	case numbered(topic, "invoker"):
		tc.RetentionMs = 172800000
	case strings.HasPrefix(topic, "completed") && len(topic) > len("completed"):
		tc.RetentionMs = 3600000
		tc.MaxMessageBytes = 1<<20 + 6068
	case topic == messaging.TopicHealth:
		tc.RetentionMs = 3600000
	case topic == messaging.TopicCacheInvalidation:
		tc.RetentionMs = 300000
	case topic == "events":
		tc.RetentionMs = 3600000
	case numbered(topic, "scheduler"):
		tc.RetentionMs = 86400000
	case strings.HasPrefix(topic, "creationAck") && len(topic) > len("creationAck"):
		tc.RetentionMs = 3600000
	default:
		return TopicConfig{}, false
	}
	return tc, true
}

// numbered reports whether topic is prefix followed by a decimal number.
func numbered(topic, prefix string) bool {
	n, ok := strings.CutPrefix(topic, prefix)
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ControllerTopics are the topics a controller creates at start (as
// OpenWhisk's Controller.scala): its completed topic, health and
// cacheInvalidation, with the configurations of §5.4.
func ControllerTopics(controllerID string) map[string]TopicConfig {
	return topicSet(messaging.CompletedTopic(controllerID), messaging.TopicHealth, messaging.TopicCacheInvalidation)
}

// InvokerTopics are the topics an invoker creates at start: its own
// invoker<N> topic and health (which it publishes to, so that an invoker
// started before any controller need not wait for one to create it).
func InvokerTopics(invoker int) map[string]TopicConfig {
	return topicSet(messaging.InvokerTopic(invoker), messaging.TopicHealth)
}

func topicSet(names ...string) map[string]TopicConfig {
	m := make(map[string]TopicConfig, len(names))
	for _, n := range names {
		tc, _ := DefaultTopicConfig(n)
		m[n] = tc
	}
	return m
}

// validTopicName reports why name (already prefixed) is not a legal Kafka
// topic name, or nil.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is reserved", name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("topic name of %d characters exceeds %d", len(name), maxTopicNameLength)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has the illegal character %q (allowed: letters, digits, '.', '_', '-')", name, r)
		}
	}
	return nil
}

// EnsureTopics creates the given topics (unprefixed names; the prefix of
// cfg is added) and waits until every one of them has a partition leader.
// A topic that already exists counts as created; its configuration is
// left as it is. Errors wrap entity.ErrInvalid for a bad name or
// configuration and entity.ErrUnavailable when the cluster cannot be
// reached or does not create the topics within cfg.RequestTimeout.
func EnsureTopics(ctx context.Context, cfg Config, topics map[string]TopicConfig) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	slices.Sort(names)
	req := &kafkago.CreateTopicsRequest{}
	full := make([]string, 0, len(names))
	for _, n := range names {
		tc := topics[n]
		fn := cfg.fullName(n)
		if err := validTopicName(fn); err != nil {
			return entity.Invalidf("kafka: %v", err)
		}
		if tc.Partitions < 0 || tc.ReplicationFactor < 0 || tc.RetentionMs < 0 || tc.RetentionBytes < 0 || tc.SegmentBytes < 0 || tc.MaxMessageBytes < 0 {
			return entity.Invalidf("kafka: topic %s: negative setting in %+v", fn, tc)
		}
		if tc.Partitions == 0 {
			tc.Partitions = 1
		}
		if tc.ReplicationFactor == 0 {
			tc.ReplicationFactor = 1
		}
		full = append(full, fn)
		req.Topics = append(req.Topics, kafkago.TopicConfig{
			Topic:             fn,
			NumPartitions:     tc.Partitions,
			ReplicationFactor: tc.ReplicationFactor,
			ConfigEntries:     tc.configEntries(),
		})
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	tr := cfg.transport()
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: cfg.addr(), Timeout: cfg.RequestTimeout, Transport: tr}

	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return unavailablef(ctx, "kafka: cannot create topics %v on %v: %v", full, cfg.Brokers, err)
	}
	var invalid, failed []string
	for _, fn := range full {
		terr, ok := resp.Errors[fn]
		if !ok {
			failed = append(failed, fn+": no answer from the broker")
			continue
		}
		if terr == nil {
			continue
		}
		switch classify(terr) {
		case kindExists:
		case kindInvalid:
			invalid = append(invalid, fn+": "+terr.Error())
		default:
			failed = append(failed, fn+": "+terr.Error())
		}
	}
	if len(invalid) > 0 {
		return entity.Invalidf("kafka: cannot create topics: %s", strings.Join(invalid, "; "))
	}
	if len(failed) > 0 {
		return entity.Errorf(entity.ErrUnavailable, "kafka: cannot create topics: %s", strings.Join(failed, "; "))
	}
	return waitForLeaders(ctx, client, full)
}

// waitForLeaders polls the cluster metadata until every topic has a leader
// for each of its partitions, or ctx ends.
func waitForLeaders(ctx context.Context, client *kafkago.Client, topics []string) error {
	var last string
	for {
		md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
		if err == nil {
			last = missingLeaders(md, topics)
			if last == "" {
				return nil
			}
		} else {
			last = err.Error()
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return unavailablef(ctx, "kafka: topics %v have no leader yet: %s", topics, last)
		case <-t.C:
		}
	}
}

// missingLeaders describes the first topic of topics that is missing from
// md or has a partition without a leader, or returns "".
func missingLeaders(md *kafkago.MetadataResponse, topics []string) string {
	for _, name := range topics {
		i := slices.IndexFunc(md.Topics, func(t kafkago.Topic) bool { return t.Name == name })
		if i < 0 {
			return name + " is not in the metadata"
		}
		t := md.Topics[i]
		if t.Error != nil {
			return name + ": " + t.Error.Error()
		}
		if len(t.Partitions) == 0 {
			return name + " has no partitions"
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return fmt.Sprintf("%s partition %d has no leader", name, p.ID)
			}
		}
	}
	return ""
}

// unavailablef returns an ErrUnavailable error, which also wraps ctx's error
// when ctx ended.
func unavailablef(ctx context.Context, format string, args ...any) error {
	err := entity.Errorf(entity.ErrUnavailable, format, args...)
	if cerr := ctx.Err(); cerr != nil {
		return &ctxError{err: err, ctx: cerr}
	}
	return err
}

// ctxError is an ErrUnavailable error that also matches its ctx's error
// with errors.Is.
type ctxError struct {
	err error
	ctx error
}

func (e *ctxError) Error() string   { return e.err.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.err, e.ctx} }

// topicExists reports whether topic (prefixed) is in the metadata of
// client (its transport's cache, refreshed every Config.MetadataTTL). It
// never asks the broker to create the topic.
func topicExists(ctx context.Context, client *kafkago.Client, topic string) (bool, error) {
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, err
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			return t.Error == nil && len(t.Partitions) > 0, nil
		}
	}
	return false, nil
}
