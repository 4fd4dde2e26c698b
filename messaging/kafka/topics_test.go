package kafka

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/gowhisk/gowhisk/entity"
)

func TestDefaultTopicConfig(t *testing.T) {
	common := func(retention int64, maxMsg int) TopicConfig {
		return TopicConfig{Partitions: 1, ReplicationFactor: 1, RetentionMs: retention, RetentionBytes: 1073741824, SegmentBytes: 536870912, MaxMessageBytes: maxMsg}
	}
	tests := []struct {
		name  string
		topic string
		want  TopicConfig
		ok    bool
	}{
		{"invoker topic keeps 48 h", "invoker0", common(172800000, 0), true},
		{"invoker with a large id", "invoker123", common(172800000, 0), true},
		{"completed topic: 1 h and 1 MB + 6068 messages", "completed0", common(3600000, 1054644), true},
		{"completed topic of a named controller", "completedcontroller1", common(3600000, 1054644), true},
		{"health", "health", common(3600000, 0), true},
		{"cacheInvalidation keeps 5 min", "cacheInvalidation", common(300000, 0), true},
		{"events", "events", common(3600000, 0), true},
		{"scheduler keeps 24 h", "scheduler0", common(86400000, 0), true},
		{"creationAck", "creationAck0", common(3600000, 0), true},
		{"invoker without a number", "invoker", TopicConfig{}, false},
		{"invoker with a non-numeric suffix", "invokerX", TopicConfig{}, false},
		{"completed without a controller", "completed", TopicConfig{}, false},
		{"unknown", "something", TopicConfig{}, false},
		{"empty", "", TopicConfig{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DefaultTopicConfig(tt.topic)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("DefaultTopicConfig(%q) = %+v, %v; want %+v, %v", tt.topic, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTopicSets(t *testing.T) {
	c := ControllerTopics("0")
	for _, n := range []string{"completed0", "health", "cacheInvalidation"} {
		if _, ok := c[n]; !ok {
			t.Errorf("ControllerTopics lacks %s: %v", n, c)
		}
	}
	i := InvokerTopics(3)
	for _, n := range []string{"invoker3", "health"} {
		if _, ok := i[n]; !ok {
			t.Errorf("InvokerTopics lacks %s: %v", n, i)
		}
	}
	if len(c) != 3 || len(i) != 2 {
		t.Errorf("unexpected extra topics: %v %v", c, i)
	}
}

func TestValidTopicName(t *testing.T) {
	tests := []struct {
		name  string
		topic string
		ok    bool
	}{
		{"plain", "invoker0", true},
		{"prefix with dots, dashes and underscores", "ow.prod_1-completed0", true},
		{"mixed case", "cacheInvalidation", true},
		{"longest legal", strings.Repeat("a", 249), true},
		{"empty", "", false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"too long", strings.Repeat("a", 250), false},
		{"space", "invoker 0", false},
		{"slash", "a/b", false},
		{"non-ASCII", "héalth", false},
		{"NUL", "a\x00b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validTopicName(tt.topic); (err == nil) != tt.ok {
				t.Fatalf("validTopicName(%q) = %v; want ok=%v", tt.topic, err, tt.ok)
			}
		})
	}
}

// describeTopic returns the topic-level configs and partition count of a
// topic as the broker reports them.
func describeTopic(t *testing.T, cfg Config, full string) (map[string]string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tr := cfg.transport()
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: tr}
	res, err := client.DescribeConfigs(ctx, &kafkago.DescribeConfigsRequest{
		Resources: []kafkago.DescribeConfigRequestResource{{ResourceType: kafkago.ResourceTypeTopic, ResourceName: full}},
	})
	if err != nil {
		t.Fatalf("DescribeConfigs(%s): %v", full, err)
	}
	if len(res.Resources) != 1 || res.Resources[0].Error != nil {
		t.Fatalf("DescribeConfigs(%s) = %+v", full, res.Resources)
	}
	got := map[string]string{}
	for _, e := range res.Resources[0].ConfigEntries {
		got[e.ConfigName] = e.ConfigValue
	}
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{full}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("Metadata(%s) = %+v, %v", full, md, err)
	}
	return got, len(md.Topics[0].Partitions)
}

func TestEnsureTopicsCreatesWithRetentionAndIsIdempotent(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	topics := ControllerTopics("0")
	maps.Copy(topics, InvokerTopics(0))
	topics["wide"] = TopicConfig{Partitions: 3}
	ensure(t, cfg, topics)
	ensure(t, cfg, topics) // already exists: success
	ensure(t, cfg, InvokerTopics(1))

	want := map[string]map[string]string{
		"invoker0":          {"retention.ms": "172800000"},
		"invoker1":          {"retention.ms": "172800000"},
		"completed0":        {"retention.ms": "3600000", "max.message.bytes": "1054644"},
		"health":            {"retention.ms": "3600000"},
		"cacheInvalidation": {"retention.ms": "300000"},
	}
	for name, w := range want {
		got, parts := describeTopic(t, cfg, cfg.TopicPrefix+name)
		w["segment.bytes"] = "536870912"
		w["retention.bytes"] = "1073741824"
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
			}
		}
		if parts != 1 {
			t.Errorf("%s has %d partitions, want 1", name, parts)
		}
	}
	if _, parts := describeTopic(t, cfg, cfg.TopicPrefix+"wide"); parts != 3 {
		t.Errorf("wide has %d partitions, want 3", parts)
	}
}

func TestEnsureTopicsRejectsBadInput(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	ctx := context.Background()
	tests := []struct {
		name   string
		cfg    Config
		topics map[string]TopicConfig
	}{
		{"illegal character", cfg, map[string]TopicConfig{"a b": {}}},
		{"empty name", Config{Brokers: cfg.Brokers}, map[string]TopicConfig{"": {}}},
		{"too long with the prefix", cfg, map[string]TopicConfig{strings.Repeat("x", 249): {}}},
		{"negative partitions", cfg, map[string]TopicConfig{"neg": {Partitions: -1}}},
		{"replication beyond the brokers", cfg, map[string]TopicConfig{"repl": {ReplicationFactor: 3}}},
		{"no brokers", Config{}, map[string]TopicConfig{"health": {}}},
		{"illegal prefix", Config{Brokers: cfg.Brokers, TopicPrefix: "a/"}, map[string]TopicConfig{"health": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := EnsureTopics(ctx, tt.cfg, tt.topics)
			if !errors.Is(err, entity.ErrInvalid) {
				t.Fatalf("EnsureTopics = %v; want ErrInvalid", err)
			}
		})
	}
	if err := EnsureTopics(ctx, cfg, nil); err != nil {
		t.Fatalf("EnsureTopics(nil) = %v", err)
	}
}

func TestEnsureTopicsBrokerUnreachable(t *testing.T) {
	cluster := newCluster(t)
	cfg := testConfig(t, cluster)
	cluster.Close()
	cfg.RequestTimeout = 2 * cfg.DialTimeout
	for i := range 2 {
		err := EnsureTopics(context.Background(), cfg, InvokerTopics(i))
		if !errors.Is(err, entity.ErrUnavailable) {
			t.Fatalf("EnsureTopics with the broker down = %v; want ErrUnavailable", err)
		}
		t.Log("attempt " + strconv.Itoa(i) + ": " + err.Error())
	}
}
