package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gowhisk/gowhisk/controller"
	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/couchdb"
	"github.com/gowhisk/gowhisk/loadbalancer"
	"github.com/gowhisk/gowhisk/messaging"
	"github.com/gowhisk/gowhisk/messaging/kafka"
)

// controllerServer is a `gowhisk controller` being started, run and shut
// down. Each start step sets one field; close undoes whatever was set.
type controllerServer struct {
	o        controllerOptions
	log      *slog.Logger
	manifest *entity.Manifest

	db            *couchdb.Client
	producer      *kafka.Producer
	acks, health  *kafka.Consumer
	invalidations *invalidations
	lb            *loadbalancer.Sharding
	lost          *lostRecords
	srv           *controller.Server
	ln            net.Listener
	apihost       string

	cancelLoops context.CancelFunc
	lbDone      chan error
}

func runController(ctx context.Context, e env, o controllerOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	log, err := newLogger(e.Stderr, o.logLevel)
	if err != nil {
		return err
	}
	log = log.With("controller", o.id)
	m, _, err := loadManifest(o.runtimesFile)
	if err != nil {
		return fmt.Errorf("runtimes manifest: %w", err)
	}
	s := &controllerServer{o: o, log: log, manifest: m, lbDone: make(chan error, 1)}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.start(ctx); err != nil {
		return err
	}
	log.Info("gowhisk controller listening", "apihost", s.apihost, "clusterSize", o.clusterSize,
		"kafka", o.cluster.kafkaBrokers, "couchdb", o.cluster.couchURL, "runtimes", len(m.Kinds()))
	fmt.Fprintf(e.Stdout, "gowhisk controller %s listening on %s\n", o.id, s.apihost)
	return s.serve(ctx, stop)
}

// start connects to CouchDB and Kafka (waiting for them at most
// --startup-timeout), stores the health test action, builds the balancer
// and the REST API, listens and starts the background loops; on failure
// it undoes the steps done.
func (s *controllerServer) start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.close(ctx)
		}
	}()
	o := s.o
	if s.db, err = o.cluster.openCouch(ctx, s.log); err != nil {
		return err
	}
	kcfg := o.cluster.kafkaConfig("gowhisk-controller"+o.id, s.log)
	if err := o.cluster.ensureTopics(ctx, kcfg, s.log, kafka.ControllerTopics(o.id)); err != nil {
		return err
	}
	health, err := loadbalancer.HealthTestAction(o.id, s.manifest, time.Now())
	if err != nil {
		return err
	}
	if err := storeHealthAction(ctx, s.db.Entities(), health); err != nil {
		return fmt.Errorf("storing the health test action: %w", err)
	}
	if err := s.openKafka(kcfg); err != nil {
		return err
	}
	s.lost = newLostRecords(s.db.Activations(), s.log)
	s.lb, err = loadbalancer.NewSharding(loadbalancer.Config{
		ControllerID:  o.id,
		ClusterSize:   o.clusterSize,
		Producer:      s.producer,
		Acks:          s.acks,
		Health:        s.health,
		TimeoutFloor:  o.timeoutFloor,
		TimeoutFactor: o.timeoutFactor,
		TimeoutAddon:  o.timeoutAddon,
		HealthAction: func(ctx context.Context, invoker int) error {
			return s.lb.SendHealthAction(ctx, invoker, health)
		},
		OnForcedCompletion: s.lost.forced,
		Logger:             s.log,
	})
	if err != nil {
		return fmt.Errorf("load balancer: %w", err)
	}
	if s.ln, err = net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port))); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.apihost = "http://" + s.ln.Addr().String()
	if err := s.newController(); err != nil {
		return err
	}
	s.warnWellKnownKeys(ctx)
	loops, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancelLoops = cancel
	go func() { s.lbDone <- s.lb.Run(loops) }()
	s.invalidations.start(loops, s.srv.InvalidateDocID)
	return nil
}

// openKafka creates the producer and the consumers: acks on the
// controller's completed topic, pings on health and cache invalidations,
// each in this controller's own group.
func (s *controllerServer) openKafka(kcfg kafka.Config) error {
	id := s.o.id
	var err error
	if s.producer, err = kafka.NewProducer(kcfg); err != nil {
		return err
	}
	completed := messaging.CompletedTopic(id)
	if s.acks, err = kafka.NewConsumer(kcfg, completed, completed); err != nil {
		return err
	}
	if s.health, err = kafka.NewConsumer(kcfg, messaging.TopicHealth, messaging.TopicHealth+id); err != nil {
		return err
	}
	inv, err := kafka.NewConsumer(kcfg, messaging.TopicCacheInvalidation, messaging.TopicCacheInvalidation+"controller"+id)
	if err != nil {
		return err
	}
	s.invalidations = newInvalidations(id, s.producer, inv, s.log)
	return nil
}

func (s *controllerServer) newController() error {
	build, buildNo := buildInfo()
	srv, err := controller.New(controller.Config{
		Entities:      s.db.Entities(),
		Activations:   s.db.Activations(),
		Subjects:      s.db.Subjects(),
		Manifest:      s.manifest,
		Limits:        s.o.limits(),
		ClusterSize:   s.o.clusterSize,
		Activator:     s.lb,
		Logger:        s.log,
		Build:         build,
		BuildNo:       buildNo,
		OnEntityWrite: s.invalidations.written,
		Invokers:      s.invokers,
	})
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	s.srv = srv
	return nil
}

// invokers is the balancer's view of the invokers for GET /invokers.
func (s *controllerServer) invokers() []controller.InvokerStatus {
	all := s.lb.Invokers()
	out := make([]controller.InvokerStatus, len(all))
	for i, inv := range all {
		out[i] = controller.InvokerStatus{Name: inv.Name, Status: inv.Status}
	}
	return out
}

// warnWellKnownKeys logs a warning when OpenWhisk's public guest or
// whisk.system key authenticates against a controller that listens
// beyond loopback.
func (s *controllerServer) warnWellKnownKeys(ctx context.Context) {
	if isLoopbackHost(s.o.host) {
		return
	}
	active, err := wellKnownKeysActive(ctx, s.db.Subjects())
	if err != nil {
		s.log.Warn("checking the well-known keys", "err", err)
		return
	}
	for _, a := range active {
		s.log.Warn("OpenWhisk's well-known public key is active on a non-loopback address: rekey it with 'gowhisk admin --couchdb-url ... user rekey'",
			"subject", a.Subject, "namespace", a.Namespace, "host", s.o.host)
	}
}

// storeHealthAction creates or updates the health test action.
func storeHealthAction(ctx context.Context, store entity.Store, a *entity.Action) error {
	for attempt := 0; ; attempt++ {
		old, err := store.Get(ctx, entity.KindAction, a.FullName())
		switch {
		case err == nil:
			a.SetRevision(old.Revision())
		case errors.Is(err, entity.ErrNotFound):
			a.SetRevision("")
		default:
			return err
		}
		_, err = store.Put(ctx, a)
		if err == nil || attempt == 2 || !(errors.Is(err, entity.ErrConflict) || errors.Is(err, entity.ErrExists)) {
			return err
		}
	}
}

// serve serves the API until it fails or ctx ends, then shuts down: HTTP,
// the controller's background work, then (close) the balancer, Kafka and
// CouchDB, which writes out queued activation records.
func (s *controllerServer) serve(ctx context.Context, stop context.CancelFunc) error {
	ln := s.ln
	s.ln = nil // closed by the HTTP server's shutdown
	return serveAPI(ctx, stop, s.log, s.srv, ln, s.o.shutdownTimeout, func(ctx context.Context) error {
		s.close(ctx)
		return nil
	})
}

// close stops whatever was started, in order: the invalidation loops
// (publishing what is queued), the balancer (closing the acks consumer
// ends its loop and its waiters), the Kafka clients, the record checks,
// and CouchDB.
func (s *controllerServer) close(ctx context.Context) {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.invalidations != nil && s.cancelLoops != nil {
		s.invalidations.stop(ctx)
	}
	if s.acks != nil {
		_ = s.acks.Close()
	}
	if s.cancelLoops != nil {
		select {
		case <-s.lbDone:
		case <-ctx.Done():
			s.log.Warn("the load balancer did not stop in time")
		}
		s.cancelLoops()
	}
	if s.health != nil {
		_ = s.health.Close()
	}
	if s.producer != nil {
		_ = s.producer.Close()
	}
	if s.invalidations != nil {
		_ = s.invalidations.consumer.Close()
	}
	if s.lost != nil {
		s.lost.close(ctx)
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.log.Error("closing CouchDB", "err", err)
		}
	}
}
