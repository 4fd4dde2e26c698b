// Package controller is gowhisk's REST API: the OpenWhisk /api/v1 routes
// over gin, with basic auth, entitlement, the entity cache, invoke, trigger
// fire and the one mapping of entity errors to HTTP responses (errors.go).
//
// Route scheme (for the files that register routes through the hooks):
//
//	ns := /api/v1/namespaces/:namespace            (auth, then the throttle middleware of throttle.go)
//	ns.GET("/actions"), ns.GET/PUT/DELETE("/actions/*name")   actions.go
//	ns.POST("/actions/*name")                       registerInvokeRoutes (invoke.go)
//	ns.GET("/packages"), ns.GET/PUT/DELETE("/packages/:name") packages.go
//
// The action catch-all "*name" is "/a", "/pkg/a" or "/pkg/" (package
// listing); parse it with parseActionPath(c.Param("name")) or use
// s.actionTarget(c).
//
// Helpers shared by the route files:
//
//	s.abort(c, err)                   the one error -> HTTP mapping (errors.go)
//	transactionID(c), callerIdentity(c)
//	s.resolveNamespace(c) (ns, own)   "_" -> caller; s.ownNamespace(c) aborts 403 if foreign
//	parseListQuery(c, coll), boolQuery(c, name, def), s.readJSON / s.readBody (size-bounded)
//	respond(c, status, v)             JSON without HTML escaping
//	s.getAction / s.getPackage        cached reads; s.Invalidate(kind, fqn) on writes
//	s.resolveAction(ctx, fqn)         binding resolved, params merged package < binding < action
//	s.checkActionAccess(ctx, id, fqn) own namespace or readable (published) package, else 403
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// Config wires a controller. Entities, Activations, Subjects and Manifest
// are required; a zero Limits means entity.DefaultSystemLimits().
type Config struct {
	Entities    entity.Store
	Activations entity.Activations
	Subjects    entity.Subjects
	Manifest    *entity.Manifest
	Limits      entity.SystemLimits
	Activator   Activator // the load-balancer seam; nil => invoke answers 503 "No invokers available"
	Logger      *slog.Logger
	Build       string
	BuildNo     string
	Now         func() time.Time // optional, defaults to time.Now

	// OnEntityWrite, if set, is called after every successful write or
	// delete of an entity (action, package, trigger or rule) this
	// controller makes, synchronously on the request's goroutine, after
	// the store has the change: a distributed deployment publishes a cache
	// invalidation for the other controllers (reference §6.6), which call
	// InvalidateDocID when they receive it. It must not block.
	OnEntityWrite func(kind entity.Kind, name entity.FQN)
	// Invokers, if set, lists the invokers with their health for GET
	// /invokers (the sharding balancer's view); nil shows none.
	Invokers func() []InvokerStatus
	// ClusterSize is the number of controllers of the deployment, each
	// enforcing its share of the namespace throttles (reference §7.6);
	// 0 means 1.
	ClusterSize int
}

// Server is the controller's HTTP API. Create it with New.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *gin.Engine

	ids       *identityCache
	entities  *entityCache
	throttler *Throttler

	background sync.WaitGroup // work that outlives its request (trigger fire)
}

// Defaults of the caches.
const (
	identityCacheSize = 100_000
	identityCacheTTL  = 5 * time.Minute
	entityCacheSize   = 10_000
	entityCacheTTL    = 5 * time.Minute
)

// New validates cfg and builds the server with every route registered.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Entities == nil:
		return nil, errors.New("controller: Config.Entities is required")
	case cfg.Activations == nil:
		return nil, errors.New("controller: Config.Activations is required")
	case cfg.Subjects == nil:
		return nil, errors.New("controller: Config.Subjects is required")
	case cfg.Manifest == nil:
		return nil, errors.New("controller: Config.Manifest is required")
	}
	if cfg.Limits == (entity.SystemLimits{}) {
		cfg.Limits = entity.DefaultSystemLimits()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnEntityWrite != nil {
		cfg.Entities = notifyingStore{Store: cfg.Entities, onWrite: cfg.OnEntityWrite}
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		ids:      newIdentityCache(identityCacheSize, identityCacheTTL, cfg.Now),
		entities: newEntityCache(entityCacheSize, entityCacheTTL, cfg.Now),
	}
	inFlight, _ := cfg.Activator.(InFlightCounter)
	s.throttler = NewThrottler(ThrottlerConfig{
		Limits: cfg.Limits, ClusterSize: cfg.ClusterSize, InFlight: inFlight, Now: cfg.Now,
	})
	s.engine = s.routes()
	return s, nil
}

// Close waits, bounded by ctx, for work that outlives its request (the rule
// invocations and record of a fired trigger). Call it after the HTTP server
// has stopped taking requests and before the stores are closed.
func (s *Server) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.background.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("controller: background work still running: %w", ctx.Err())
	}
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// now is the current time in epoch milliseconds.
func (s *Server) now() int64 { return s.cfg.Now().UnixMilli() }

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(s.recovery, s.requestMiddleware)
	e.NoRoute(func(c *gin.Context) { s.abort(c, entity.ErrNotFound) })
	e.NoMethod(s.methodNotAllowed)

	e.GET("/ping", s.ping)
	s.registerInvokerRoutes(e)
	s.registerWebRoutes(e)
	e.GET("/", s.controllerInfo)
	e.GET("/api/v1", s.apiInfo)
	e.GET("/api/v1/", s.apiInfo)
	e.GET("/api/v1/namespaces", s.authenticate, s.listNamespaces)
	e.GET("/api/v1/namespaces/", s.authenticate, s.listNamespaces)

	ns := e.Group("/api/v1/namespaces/:namespace", s.authenticate, s.throttle)
	s.registerActionRoutes(ns)
	s.registerPackageRoutes(ns)
	s.registerInvokeRoutes(ns)
	s.registerTriggerRoutes(ns)
	s.registerRuleRoutes(ns)
	s.registerActivationRoutes(ns)
	s.registerLimitRoutes(ns)
	return e
}

// requestMiddleware assigns the transaction id (echoed as X-Request-ID),
// sets the CORS headers on /api/v1, answers OPTIONS on /api/v1 paths
// without auth, and logs the request at debug level.
func (s *Server) requestMiddleware(c *gin.Context) {
	tid := transactionID(c)
	h := c.Writer.Header()
	h.Set(headerRequestID, tid)
	path := c.Request.URL.Path
	api := path == "/api/v1" || strings.HasPrefix(path, "/api/v1/")
	web := strings.HasPrefix(path, "/api/v1/web/")
	if api && !web {
		setCORS(h)
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusOK)
			return
		}
	}
	if !s.log.Enabled(c, slog.LevelDebug) {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	s.log.LogAttrs(c, slog.LevelDebug, "request",
		slog.String("tid", tid),
		slog.String("method", c.Request.Method),
		slog.String("path", path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("elapsed", time.Since(start)))
}

// recovery turns a panic in a handler into a JSON 500 in OpenWhisk shape.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic in handler", "tid", transactionID(c), "path", c.Request.URL.Path, "panic", fmt.Sprint(r))
			if !c.Writer.Written() {
				s.abort(c, fmt.Errorf("panic: %v", r))
			} else {
				c.Abort()
			}
		}
	}()
	c.Next()
}

// ctx is the request's context.
func ctx(c *gin.Context) context.Context { return c.Request.Context() }
