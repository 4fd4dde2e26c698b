package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaBroker runs an in-process Kafka-protocol broker (kfake), prints
// "KAFKA <host:port>" and serves until its stdin closes. Without
// GOWHISK_BENCH_KAFKA_BROKER=1 it is skipped.
func TestKafkaBroker(t *testing.T) {
	if os.Getenv(brokerEnv) != "1" {
		t.Skip("serves only for the benchmark harness (" + brokerEnv + "=1)")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	defer c.Close()
	fmt.Printf("KAFKA %s\n", strings.Join(c.ListenAddrs(), ","))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
	}
}
