package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/loadbalancer"
	"github.com/gowhisk/gowhisk/messaging"
)

// controllerOptions are the flags of `gowhisk controller`.
type controllerOptions struct {
	host                             string
	port                             int
	id                               string
	clusterSize                      int
	cluster                          clusterOptions
	runtimesFile, logLevel           string
	shutdownTimeout                  time.Duration
	invocationsPerMinute, concurrent int
	firesPerMinute                   int
	timeoutFloor, timeoutAddon       time.Duration
	timeoutFactor                    int
}

func newControllerCmd(e env) *cobra.Command {
	o := controllerOptions{}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run a controller of a distributed deployment (Kafka and CouchDB)",
		Long: `Run one controller of a distributed deployment: the OpenWhisk REST API under
/api/v1, with entities, subjects and activation records in CouchDB and
activations sent over Kafka to the invokers ('gowhisk invoker') by the
sharding load balancer.

Several controllers may serve the same deployment: give each its own
--controller-id and all of them the number of controllers (--cluster-size),
by which each divides the invokers' memory and the namespace throttles
(with more than one controller each enforces ceil(limit x 1.2) /
cluster size, at least 1, of --invocations-per-minute,
--concurrent-invocations and --fires-per-minute or a namespace's own
limits; over them a request gets 429 Too Many Requests). A write through one controller
invalidates the entity on the others (Kafka topic cacheInvalidation).

At start it creates its Kafka topics (completed<id>, health,
cacheInvalidation), the CouchDB databases and design documents if they are
missing, and its invoker health test action
(whisk.system/invokerHealthTestAction<id>). It waits up to --startup-timeout
for Kafka and CouchDB. GET /invokers shows the invokers' health as this
controller sees it from their pings.

An activation whose invoker never acknowledges it (the invoker died) is
forced complete after max(action timeout, --timeout-floor) x
--timeout-factor + --timeout-addon (OpenWhisk's default: 3 minutes for a
60 s action); its record then says "whisk internal error".

Create subjects with 'gowhisk admin --couchdb-url ...'.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd.Context(), e, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&o.port, "port", 3233, "port to listen on (0 picks a free port)")
	fs.StringVar(&o.id, "controller-id", "0", "this controller's instance id (letters, digits, '.', '_', '-'): its acks arrive on topic completed<id>")
	fs.IntVar(&o.clusterSize, "cluster-size", 1, "number of controllers sharing the invokers")
	addClusterFlags(fs, &o.cluster)
	fs.StringVar(&o.runtimesFile, "runtimes", "", "runtimes manifest JSON file (default: the built-in manifest)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let in-flight requests finish on SIGINT/SIGTERM")
	def := entity.DefaultSystemLimits()
	fs.IntVar(&o.invocationsPerMinute, "invocations-per-minute", def.InvocationsPerMinute, "default namespace limit of invocations per minute")
	fs.IntVar(&o.concurrent, "concurrent-invocations", def.ConcurrentInvocations, "default namespace limit of concurrent invocations")
	fs.IntVar(&o.firesPerMinute, "fires-per-minute", def.FiresPerMinute, "default namespace limit of trigger fires per minute")
	fs.DurationVar(&o.timeoutFloor, "timeout-floor", loadbalancer.DefaultTimeoutFloor, "forced completion: the action time limit counts as at least this")
	fs.IntVar(&o.timeoutFactor, "timeout-factor", loadbalancer.DefaultTimeoutFactor, "forced completion: multiplier of the action time limit")
	fs.DurationVar(&o.timeoutAddon, "timeout-addon", loadbalancer.DefaultTimeoutAddon, "forced completion: added to the multiplied time limit")
	bindFlagsEnv(fs)
	return cmd
}

func (o controllerOptions) validate() error {
	switch {
	case o.port < 0 || o.port > 65535:
		return usageError{fmt.Errorf("--port %d out of range 0..65535", o.port)}
	case !messaging.ValidControllerID(o.id):
		return usageError{fmt.Errorf("--controller-id %q: want 1 to %d letters, digits, '.', '_' or '-'", o.id, messaging.MaxControllerIDLength)}
	case o.clusterSize < 1:
		return usageError{errors.New("--cluster-size must be at least 1")}
	case o.invocationsPerMinute < 0 || o.concurrent < 0 || o.firesPerMinute < 0:
		return usageError{errors.New("namespace limits must not be negative")}
	case o.timeoutFloor <= 0 || o.timeoutAddon <= 0 || o.timeoutFactor < 1:
		return usageError{errors.New("--timeout-floor and --timeout-addon must be positive and --timeout-factor at least 1")}
	case o.shutdownTimeout <= 0:
		return usageError{errors.New("--shutdown-timeout must be positive")}
	}
	return o.cluster.validate()
}

// limits are the system limits with the namespace defaults of the flags.
func (o controllerOptions) limits() entity.SystemLimits {
	l := entity.DefaultSystemLimits()
	l.InvocationsPerMinute = o.invocationsPerMinute
	l.ConcurrentInvocations = o.concurrent
	l.FiresPerMinute = o.firesPerMinute
	return l
}
