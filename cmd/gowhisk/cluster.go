package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/couchdb"
	"github.com/gowhisk/gowhisk/messaging/kafka"
)

// clusterOptions are the flags of the distributed deployment's shared
// services, common to `gowhisk controller` and `gowhisk invoker`.
type clusterOptions struct {
	kafkaBrokers     string // comma-separated host:port list
	kafkaTopicPrefix string
	couchURL         string
	couchUser        string
	couchPass        string
	dbPrefix         string
	startupTimeout   time.Duration
}

// Defaults of the cluster flags (the docker-compose quick-start's
// services on their standard ports).
const (
	defaultKafkaBrokers   = "127.0.0.1:9092"
	defaultCouchURL       = "http://127.0.0.1:5984"
	defaultStartupTimeout = time.Minute
	// startupRetry is the pause between attempts to reach Kafka or
	// CouchDB at start.
	startupRetry = time.Second
)

func addClusterFlags(fs *pflag.FlagSet, o *clusterOptions) {
	fs.StringVar(&o.kafkaBrokers, "kafka-brokers", defaultKafkaBrokers, "Kafka bootstrap brokers, comma-separated host:port")
	fs.StringVar(&o.kafkaTopicPrefix, "kafka-topic-prefix", "", "prefix of every Kafka topic and consumer group (deployments sharing a cluster)")
	fs.StringVar(&o.couchURL, "couchdb-url", defaultCouchURL, "CouchDB URL")
	fs.StringVar(&o.couchUser, "couchdb-user", "", "CouchDB user name")
	fs.StringVar(&o.couchPass, "couchdb-password", "", "CouchDB password")
	fs.StringVar(&o.dbPrefix, "db-prefix", couchdb.DefaultPrefix, "prefix of the CouchDB database names (<prefix>whisks, <prefix>activations, <prefix>subjects)")
	fs.DurationVar(&o.startupTimeout, "startup-timeout", defaultStartupTimeout, "how long to keep trying to reach Kafka and CouchDB at start")
}

func (o clusterOptions) validate() error {
	switch {
	case len(o.brokers()) == 0:
		return usageError{errors.New("--kafka-brokers: no broker address")}
	case strings.TrimSpace(o.couchURL) == "":
		return usageError{errors.New("--couchdb-url is required")}
	case o.startupTimeout <= 0:
		return usageError{errors.New("--startup-timeout must be positive")}
	}
	return nil
}

// brokers splits --kafka-brokers, dropping empty entries.
func (o clusterOptions) brokers() []string {
	var out []string
	for _, b := range strings.Split(o.kafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// kafkaConfig is the Kafka adapter's configuration, logging to log.
func (o clusterOptions) kafkaConfig(clientID string, log *slog.Logger) kafka.Config {
	return kafka.Config{
		Brokers:     o.brokers(),
		TopicPrefix: o.kafkaTopicPrefix,
		ClientID:    clientID,
		Logger:      log.With("component", "kafka"),
	}
}

// openCouch connects to CouchDB (creating the databases and design
// documents if missing), retrying while it is unavailable, for at most
// --startup-timeout.
func (o clusterOptions) openCouch(ctx context.Context, log *slog.Logger) (*couchdb.Client, error) {
	var db *couchdb.Client
	err := retryStartup(ctx, log, "CouchDB at "+o.couchURL, o.startupTimeout, func(ctx context.Context) error {
		var err error
		db, err = couchdb.Open(ctx, couchdb.Config{
			URL: o.couchURL, Username: o.couchUser, Password: o.couchPass, Prefix: o.dbPrefix, Logger: log,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening CouchDB at %s: %w", o.couchURL, err)
	}
	return db, nil
}

// ensureTopics creates Kafka topics, retrying while the brokers are
// unavailable, for at most --startup-timeout.
func (o clusterOptions) ensureTopics(ctx context.Context, cfg kafka.Config, log *slog.Logger, topics map[string]kafka.TopicConfig) error {
	err := retryStartup(ctx, log, "Kafka at "+o.kafkaBrokers, o.startupTimeout, func(ctx context.Context) error {
		return kafka.EnsureTopics(ctx, cfg, topics)
	})
	if err != nil {
		return fmt.Errorf("creating Kafka topics: %w", err)
	}
	return nil
}

// retryStartup calls f until it succeeds, fails with an error that is not
// entity.ErrUnavailable (a configuration mistake), timeout passes or ctx
// ends. Each failure is logged.
func retryStartup(ctx context.Context, log *slog.Logger, what string, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, entity.ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		log.Warn("waiting for "+what, "err", err)
		t := time.NewTimer(startupRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s is still unavailable after %v: %w", what, timeout, err)
		case <-t.C:
		}
	}
}

// bindFlagsEnv binds every flag of fs that has no variable yet to
// GOWHISK_<NAME> (the flag name upper-cased, '-' as '_').
func bindFlagsEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[envAnnotation]) == 0 {
			bindEnv(fs, f.Name, "GOWHISK_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_")))
		}
	})
}
