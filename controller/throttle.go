package controller

import (
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Namespace throttles (reference §7.6; OpenWhisk's Entitlement.scala,
// RateThrottler.scala and ActivationThrottler.scala).
//
// An ACTIVATE request (POST /actions/{name}, and the action invocations of
// a fired trigger's rules, which OpenWhisk makes as POSTs to itself) is
// charged to the caller's invocationsPerMinute, then checked against its
// concurrentInvocations; a trigger fire (POST /triggers/{name}) is charged
// to firesPerMinute. Sequence and conductor components are invoked without
// a check (noThrottle). A violation is entity.ErrThrottled: HTTP 429 with
// OpenWhisk's message.

// minuteMillis is the length of a rate bucket in epoch milliseconds.
const minuteMillis = 60_000

// clusterOvercommit is the dilation of the limits with more than one
// controller: 20% more requests, to absorb unfair round robin between the
// controllers (Entitlement.overcommit).
const clusterOvercommit = 1.2

// tooManyRequests is the message of a per-minute violation (OpenWhisk's
// Messages.tooManyRequests).
func tooManyRequests(count, allowed int) string {
	return fmt.Sprintf("Too many requests in the last minute (count: %d, allowed: %d).", count, allowed)
}

// tooManyConcurrentRequests is the message of a concurrency violation
// (Messages.tooManyConcurrentRequests).
func tooManyConcurrentRequests(count, allowed int) string {
	return fmt.Sprintf("Too many concurrent requests in flight (count: %d, allowed: %d).", count, allowed)
}

// epochMinute is the calendar minute of epoch millisecond ms
// (currentTimeMillis / 60000).
func epochMinute(ms int64) int64 { return ms / minuteMillis }

// rateBucket is one namespace's count in one calendar minute.
type rateBucket struct {
	minute int64
	count  int
}

// charge is the bucket after one more request in minute: the count starts
// over when the minute changed (RateInfo.roll), and always includes the
// request.
func (b rateBucket) charge(minute int64) rateBucket {
	if b.minute != minute {
		return rateBucket{minute: minute, count: 1}
	}
	b.count++
	return b
}

// rateOK reports whether a per-minute count (including the current
// request) is within allowed (TimedRateLimit.ok).
func rateOK(count, allowed int) bool { return count <= allowed }

// concurrentOK reports whether count activations in flight leave room for
// one more under allowed (ConcurrentRateLimit.ok).
func concurrentOK(count, allowed int) bool { return count < allowed }

// individualLimit is the share of limit that one of clusterSize
// controllers enforces (Entitlement.calculateIndividualLimit): with more
// than one controller the limit is dilated to ceil(limit × 1.2) and divided
// by the cluster size, rounding down but never below 1; a limit of 0 stays
// 0 (the namespace is blocked). A single controller enforces limit itself.
func individualLimit(limit, clusterSize int) int {
	if clusterSize <= 1 || limit <= 0 {
		return limit
	}
	// The same IEEE double arithmetic as Math.ceil(limit.toDouble * 1.2).
	d := math.Ceil(float64(limit) * clusterOvercommit)
	if d >= math.MaxInt32 {
		d = math.MaxInt32 // Scala's Double.toInt saturates
	}
	return max(int(d)/clusterSize, 1)
}

// rateCounter counts requests per namespace in fixed calendar-minute
// buckets. Buckets of past minutes are swept once a minute.
type rateCounter struct {
	mu        sync.Mutex
	buckets   map[string]rateBucket
	lastSweep int64
}

func newRateCounter() *rateCounter { return &rateCounter{buckets: map[string]rateBucket{}} }

// charge counts one request of key at epoch millisecond ms and returns
// the count of its minute, this request included.
func (r *rateCounter) charge(key string, ms int64) int {
	m := epochMinute(ms)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m != r.lastSweep {
		for k, b := range r.buckets {
			if b.minute != m {
				delete(r.buckets, k)
			}
		}
		r.lastSweep = m
	}
	b := r.buckets[key].charge(m)
	r.buckets[key] = b
	return b.count
}

// ThrottlerConfig configures a Throttler.
type ThrottlerConfig struct {
	// Limits holds the system defaults of InvocationsPerMinute,
	// ConcurrentInvocations and FiresPerMinute; a namespace's limits doc
	// overrides them (entity.SystemLimits.Effective).
	Limits entity.SystemLimits
	// ClusterSize is the number of controllers sharing the deployment, each
	// enforcing its share of the limits (individualLimit); < 1 means 1.
	ClusterSize int
	// InFlight counts a namespace's activations in flight on this
	// controller's load balancer; nil counts none.
	InFlight InFlightCounter
	// Now is the clock of the per-minute buckets; nil means time.Now.
	Now func() time.Time
}

// Throttler enforces the namespace throttles of one controller. Its
// methods are safe for concurrent use.
type Throttler struct {
	cfg     ThrottlerConfig
	invokes *rateCounter
	fires   *rateCounter
}

// NewThrottler returns a Throttler with empty counts.
func NewThrottler(cfg ThrottlerConfig) *Throttler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterSize < 1 {
		cfg.ClusterSize = 1
	}
	return &Throttler{cfg: cfg, invokes: newRateCounter(), fires: newRateCounter()}
}

// ThrottleKey identifies the namespace of id in the throttle counts: its
// UUID, as OpenWhisk's (the name for an identity without one).
func ThrottleKey(id entity.Identity) string {
	if id.Namespace.UUID != "" {
		return id.Namespace.UUID
	}
	return id.Namespace.Name
}

// CheckInvoke charges one action activation to id's namespace and checks
// its throttles: first invocations per minute, then concurrent
// invocations. Violations are entity.ErrThrottled with OpenWhisk's
// message. The request is counted in its minute even when refused.
func (t *Throttler) CheckInvoke(id entity.Identity) error {
	lim := t.cfg.Limits.Effective(id.Limits)
	key := ThrottleKey(id)
	allowed := individualLimit(lim.InvocationsPerMinute, t.cfg.ClusterSize)
	if n := t.invokes.charge(key, t.cfg.Now().UnixMilli()); !rateOK(n, allowed) {
		return entity.Errorf(entity.ErrThrottled, "%s", tooManyRequests(n, allowed))
	}
	allowed = individualLimit(lim.ConcurrentInvocations, t.cfg.ClusterSize)
	n := 0
	if t.cfg.InFlight != nil {
		n = t.cfg.InFlight.NamespaceInFlight(key)
	}
	if !concurrentOK(n, allowed) {
		return entity.Errorf(entity.ErrThrottled, "%s", tooManyConcurrentRequests(n, allowed))
	}
	return nil
}

// CheckFire charges one trigger fire to id's namespace and checks its
// fires per minute.
func (t *Throttler) CheckFire(id entity.Identity) error {
	lim := t.cfg.Limits.Effective(id.Limits)
	allowed := individualLimit(lim.FiresPerMinute, t.cfg.ClusterSize)
	if n := t.fires.charge(ThrottleKey(id), t.cfg.Now().UnixMilli()); !rateOK(n, allowed) {
		return entity.Errorf(entity.ErrThrottled, "%s", tooManyRequests(n, allowed))
	}
	return nil
}

// Route patterns of the throttled routes (gin's FullPath).
const (
	routeInvoke = "/api/v1/namespaces/:namespace/actions/*name"
	routeFire   = "/api/v1/namespaces/:namespace/triggers/:name"
)

// throttle is the middleware of the namespace routes that checks the
// throttles of an invoke or a fire before the handler runs (as OpenWhisk's
// entitlement check, which comes before the entity is fetched and before
// the privilege check). Requests whose path the handler rejects as
// malformed are left to it.
func (s *Server) throttle(c *gin.Context) {
	if c.Request.Method != http.MethodPost {
		return
	}
	var err error
	switch c.FullPath() {
	case routeInvoke:
		if _, _, p, _, perr := s.actionTarget(c); perr == nil && !p.Listing {
			err = s.throttler.CheckInvoke(callerIdentity(c))
		}
	case routeFire:
		if ns, _ := s.resolveNamespace(c); entity.ValidName(ns) && entity.ValidName(c.Param("name")) {
			err = s.throttler.CheckFire(callerIdentity(c))
		}
	}
	if err != nil {
		s.log.Info("namespace throttled", "tid", transactionID(c), "namespace", callerIdentity(c).Namespace.Name, "err", err)
		s.abort(c, err)
	}
}
