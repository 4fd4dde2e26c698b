package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/couchdb"
	"github.com/gowhisk/gowhisk/invoker"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/kafka"
)

// invokerOptions are the flags of `gowhisk invoker`.
type invokerOptions struct {
	id                     int
	cluster                clusterOptions
	exec                   executionOptions
	runtimesFile, logLevel string
	apiHost                string
	shutdownTimeout        time.Duration
}

// stopPingTimeout bounds the disabling ping of a stopping invoker.
const stopPingTimeout = 2 * time.Second

func newInvokerCmd(e env) *cobra.Command {
	o := invokerOptions{}
	cmd := &cobra.Command{
		Use:   "invoker",
		Short: "Run an invoker of a distributed deployment (Kafka and CouchDB)",
		Long: `Run one invoker of a distributed deployment: it consumes activations from
Kafka topic invoker<id>, runs them in a pool of warm, pausable containers,
acknowledges each on the completed topic of the controller that sent it, and
writes activation records to CouchDB (reading actions from it). Every second
it pings the controllers on topic health; they mark it down after 10 s of
silence.

At start it removes what a crashed predecessor with the same --invoker-id
left (containers, cgroups, working directories) and creates its Kafka topics.
On SIGINT/SIGTERM it tells the controllers it stops, finishes the
activations in progress (at most --shutdown-timeout) and destroys its
containers. Give every invoker its own --invoker-id.

The sandbox flags are those of 'gowhisk standalone': Docker containers when
a daemon answers and has the runtime images, else local processes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInvoker(cmd.Context(), e, o)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.id, "invoker-id", 0, "this invoker's number: it consumes topic invoker<id>")
	addClusterFlags(fs, &o.cluster)
	addExecutionFlags(fs, &o.exec)
	fs.Lookup("sandbox-dir").Usage = "process sandbox: working root (default: <system temp dir>/gowhisk-sandbox)"
	fs.StringVar(&o.runtimesFile, "runtimes", "", "runtimes manifest JSON file (default: the built-in manifest)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.StringVar(&o.apiHost, "api-host", "http://127.0.0.1:3233", "the controllers' address actions call back (__OW_API_HOST)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let activations in progress finish on SIGINT/SIGTERM")
	bindFlagsEnv(fs)
	return cmd
}

func (o invokerOptions) validate() error {
	switch {
	case o.id < 0 || o.id >= maxInvokerID:
		return usageError{fmt.Errorf("--invoker-id %d out of range 0..%d", o.id, maxInvokerID-1)}
	case o.shutdownTimeout <= 0:
		return usageError{errors.New("--shutdown-timeout must be positive")}
	}
	if err := o.exec.validate(); err != nil {
		return err
	}
	return o.cluster.validate()
}

// maxInvokerID bounds --invoker-id (the sharding balancer registers
// invokers 0..4095).
const maxInvokerID = 4096

// invokerServer is a `gowhisk invoker` being started, run and stopped.
type invokerServer struct {
	o        invokerOptions
	log      *slog.Logger
	db       *couchdb.Client
	producer *kafka.Producer
	side     *invokerSide

	cancelPings context.CancelFunc
	pingsDone   chan struct{}
}

func runInvoker(ctx context.Context, e env, o invokerOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	log, err := newLogger(e.Stderr, o.logLevel)
	if err != nil {
		return err
	}
	log = log.With("invoker", o.id)
	m, doc, err := loadManifest(o.runtimesFile)
	if err != nil {
		return fmt.Errorf("runtimes manifest: %w", err)
	}
	if o.exec.sandboxDir == "" {
		o.exec.sandboxDir = filepath.Join(os.TempDir(), "gowhisk-sandbox")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s := &invokerServer{o: o, log: log, pingsDone: make(chan struct{})}
	if err := s.start(ctx, m, doc); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "gowhisk invoker %d consuming topic %s\n", o.id, messaging.InvokerTopic(o.id))
	<-ctx.Done()
	stop() // a second SIGINT/SIGTERM ends the process at once
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	err = s.stop(sctx)
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// start connects to CouchDB and Kafka (waiting for them at most
// --startup-timeout), opens the sandbox (removing a predecessor's
// leftovers), the pool and the invoker, and starts consuming and pinging.
func (s *invokerServer) start(ctx context.Context, m *entity.Manifest, manifestJSON []byte) (err error) {
	o := s.o
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	if s.db, err = o.cluster.openCouch(ctx, s.log); err != nil {
		return err
	}
	kcfg := o.cluster.kafkaConfig(fmt.Sprintf("gowhisk-invoker%d", o.id), s.log)
	if err := o.cluster.ensureTopics(ctx, kcfg, s.log, kafka.InvokerTopics(o.id)); err != nil {
		return err
	}
	if s.producer, err = kafka.NewProducer(kcfg); err != nil {
		return err
	}
	topic := messaging.InvokerTopic(o.id)
	work, err := kafka.NewConsumer(kcfg, topic, topic)
	if err != nil {
		return err
	}
	s.side, err = openInvokerSide(ctx, invokerSideConfig{
		id: o.id, name: topic, opts: o.exec,
		manifest: m, manifestJSON: manifestJSON,
		entities: s.db.Entities(), activations: s.db.Activations(), limits: entity.DefaultSystemLimits(),
		apiHost: o.apiHost, consumer: work, producer: s.producer, logger: s.log,
	})
	if err != nil {
		_ = work.Close()
		return err
	}
	s.side.start()
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancelPings = cancel
	go func() {
		defer close(s.pingsDone)
		_ = s.side.inv.RunPings(pctx, invoker.DefaultPingInterval)
	}()
	return nil
}

// stop stops pinging and tells the controllers this invoker is disabled
// (so they send it nothing more), stops consuming, finishes the
// activations in progress (bounded by ctx), destroys the containers and
// closes Kafka and CouchDB (writing out queued records).
func (s *invokerServer) stop(ctx context.Context) error {
	s.cancelPings()
	<-s.pingsDone
	pctx, cancel := context.WithTimeout(ctx, stopPingTimeout)
	if err := s.side.inv.Ping(pctx, false); err != nil {
		s.log.Warn("telling the controllers this invoker stops", "err", err)
	}
	cancel()
	s.side.stopLoop(ctx)
	var errs []error
	if err := s.side.close(ctx); err != nil {
		s.log.Warn("stopping the invoker", "err", err)
	}
	_ = s.producer.Close()
	if err := s.db.Close(); err != nil {
		s.log.Error("closing CouchDB", "err", err)
		errs = append(errs, fmt.Errorf("closing CouchDB: %w", err))
	}
	return errors.Join(errs...)
}

// abort undoes a partial start.
func (s *invokerServer) abort() {
	if s.producer != nil {
		_ = s.producer.Close()
	}
	if s.db != nil {
		_ = s.db.Close()
	}
}
