// Package pool is the invoker's container pool: it runs jobs in warm,
// paused, stem-cell (prewarmed) or new containers within a user-memory
// capacity, pauses idle containers after a short grace, removes them after
// an idle timeout, evicts the least recently used idle containers when
// memory is short and queues jobs in a FIFO run buffer when it is full.
//
// The container lifecycle is an explicit state table (state.go) and the
// pool's decisions are pure functions (decide.go); pool.go and run.go are
// the thin shell with locks, timers and goroutines.
package pool

import (
	"log/slog"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

// Key identifies the containers a job may reuse: the invocation namespace,
// the action ("ns/[pkg/]name") and the action's store revision, so that an
// updated action never runs old code and namespaces never share one.
type Key struct {
	Namespace, Action, Revision string
}

// Job is one activation to run.
type Job struct {
	Key  Key
	Spec container.Spec // Name is a suffix: the pool names containers uniquely
	Init container.InitRequest
	Run  container.RunRequest
	// Timeout is the action time limit, for /init and for /run (default 60 s).
	Timeout time.Duration
	// LogLimit is the log size limit in bytes.
	LogLimit int64
	// Concurrency is limits.concurrency: how many runs may share a
	// container (default 1).
	Concurrency int
}

// Outcome is the result of a job.
type Outcome struct {
	Response entity.Response
	Logs     []string // formatted as stored (never nil)
	// Start is taken just before /init (cold) or /run (warm); End after
	// /run (or the failed /init).
	Start, End time.Time
	// InitTime is the /init duration, only for cold starts (including
	// stem cells).
	InitTime    time.Duration
	Cold        bool
	TimedOut    bool
	ContainerID string
}

// StemCell configures Count pre-started containers (not yet initialized)
// for a kind and memory size.
type StemCell struct {
	Kind, Image string
	MemoryMB    int
	Count       int
}

// Config configures a Pool.
type Config struct {
	// UserMemoryMB bounds the sum of the memory of all containers
	// (starting, prewarmed, busy and idle). Default 2048.
	UserMemoryMB int
	// PauseGrace is how long a container stays idle before it is paused
	// (default 50 ms; negative: never pause).
	PauseGrace time.Duration
	// IdleTimeout is how long a container stays idle (paused or not)
	// before it is removed (default 10 min; negative: never).
	IdleTimeout time.Duration
	// StemCells are kept started per kind and memory.
	StemCells []StemCell
	// TruncationSize is the response size limit in bytes (default 1 MiB).
	TruncationSize int
	Logger         *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	// Name prefixes container names (only [A-Za-z0-9_] is kept; default
	// "wsk"), e.g. "wsk0" for invoker 0.
	Name string
	// Env and Labels are given to stem cells (jobs bring their own Spec).
	Env    map[string]string
	Labels map[string]string
}

const (
	defaultUserMemoryMB   = 2048
	defaultPauseGrace     = 50 * time.Millisecond
	defaultIdleTimeout    = 10 * time.Minute
	defaultTruncation     = 1 << 20
	defaultTimeout        = 60 * time.Second
	defaultMemoryMB       = 256
	stemCellRetryLimit    = 5
	pauseTimeout          = 10 * time.Second
	destroyTimeout        = time.Minute
	createTimeout         = time.Minute
	minLogCollectTimeout  = 10 * time.Second
	devErrorLogWait       = 2 * time.Second // sentinels after a developer error
	maxRunAttempts        = 3
	maxContainerNameChars = 100
)

func (c Config) withDefaults() Config {
	if c.UserMemoryMB <= 0 {
		c.UserMemoryMB = defaultUserMemoryMB
	}
	if c.PauseGrace == 0 {
		c.PauseGrace = defaultPauseGrace
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.TruncationSize <= 0 {
		c.TruncationSize = defaultTruncation
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Name = sanitizeName(c.Name)
	if c.Name == "" {
		c.Name = "wsk"
	}
	return c
}

func (j Job) withDefaults() Job {
	if j.Timeout <= 0 {
		j.Timeout = defaultTimeout
	}
	if j.Concurrency < 1 {
		j.Concurrency = 1
	}
	if j.Spec.MemoryMB <= 0 {
		j.Spec.MemoryMB = defaultMemoryMB
	}
	return j
}

// sanitizeName keeps only [A-Za-z0-9_] (container names, as OpenWhisk).
func sanitizeName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b = append(b, c)
		}
	}
	return string(b)
}
