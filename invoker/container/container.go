// Package container defines the sandbox seam of the invoker: a Factory
// creates Containers, each running one action runtime that is initialized
// once (/init) and then runs activations (/run), can be paused and resumed,
// yields its logs framed by the activation sentinel, and is destroyed. The
// adapters live in sub-packages: process (local processes and cgroups) and
// docker (the Docker Engine API).
package container

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel is the line a runtime writes to stdout and to stderr after each
// activation (and after a failed init), framing the activation's logs.
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Errors a Container reports. Each wraps into a developer error (status 2)
// of the activation, except where noted.
var (
	// ErrExited: the runtime exited or the connection to it broke before it
	// answered ("The action did not produce a valid response and exited
	// unexpectedly.").
	ErrExited = errors.New("The action did not produce a valid response and exited unexpectedly.")
	// ErrOOM: the sandbox was killed for exceeding its memory limit ("The
	// action exhausted its memory and was aborted.").
	ErrOOM = errors.New("The action exhausted its memory and was aborted.")
	// ErrTimeout: the call outlived its context deadline (the action time
	// limit); the caller formats OpenWhisk's time-limit message.
	ErrTimeout = errors.New("the action exceeded its time limit")
	// ErrProvision: the sandbox could not be created (a whisk internal
	// error, status 3: "Failed to provision resources to run the action.").
	ErrProvision = errors.New("Failed to provision resources to run the action.")
)

// Spec describes the sandbox to create.
type Spec struct {
	Name      string            // unique per invoker; only [A-Za-z0-9_]
	Kind      string            // runtime kind ("nodejs:20", "python:3.11", "blackbox")
	Image     string            // Docker image (runtime image or user blackbox image)
	Native    bool              // blackbox image is the manifest's native skeleton
	MemoryMB  int               // memory limit (also memory+swap)
	CPUShares int               // relative CPU weight (0 = adapter default)
	Env       map[string]string // container-level environment (e.g. __OW_API_HOST)
	Labels    map[string]string // adapter labels (invoker id, action) for cleanup
}

// InitRequest is the value of a /init request (reference §3.2).
type InitRequest struct {
	Name   string            `json:"name"`
	Main   string            `json:"main"`
	Code   string            `json:"code,omitempty"`
	Binary bool              `json:"binary"`
	Env    map[string]string `json:"env"`
}

// RunRequest is a /run request body (reference §3.3): Value is the
// arguments (object or array), the rest becomes __OW_* environment.
type RunRequest struct {
	Value         json.RawMessage `json:"value"`
	Namespace     string          `json:"namespace"`
	ActionName    string          `json:"action_name"`
	ActionVersion string          `json:"action_version"`
	ActivationID  string          `json:"activation_id"`
	TransactionID string          `json:"transaction_id"`
	Deadline      string          `json:"deadline"`
	APIKey        string          `json:"api_key,omitempty"`
}

// RunResult is what the runtime answered to /run (or /init): the HTTP
// status (200 for an action-loop line) and the body.
type RunResult struct {
	Status int
	Body   []byte
}

// InitError is a runtime's non-200 answer to /init.
type InitError struct {
	Status int
	Body   []byte
}

func (e *InitError) Error() string { return "init failed: " + string(e.Body) }

// LogLine is one line of an activation's output.
type LogLine struct {
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Text   string
}

// Container is one sandbox running one runtime. Methods are not safe for
// concurrent use, except Run when the runtime allows intra-container
// concurrency.
type Container interface {
	// ID identifies the sandbox (container id, process group id).
	ID() string

	// Init initializes the runtime with the action; the context deadline is
	// the action time limit. Errors: *InitError for a non-200 answer,
	// ErrTimeout, ErrExited, ErrOOM.
	Init(ctx context.Context, req InitRequest) (RunResult, error)

	// Run runs one activation; the context deadline is the action time
	// limit. A non-200 answer is a RunResult, not an error. Errors:
	// ErrTimeout, ErrExited, ErrOOM.
	Run(ctx context.Context, req RunRequest) (RunResult, error)

	// Pause freezes the sandbox (cgroup freezer, SIGSTOP or docker pause);
	// Resume thaws it. Both are idempotent.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error

	// Logs returns the lines written since the previous call, up to and
	// excluding the sentinels, at most limit bytes (a truncation line is
	// the caller's job: truncated reports whether bytes were dropped). With
	// waitSentinels it waits (bounded by ctx) until both streams have
	// written the sentinel; otherwise it returns what is there.
	Logs(ctx context.Context, limit int64, waitSentinels bool) (lines []LogLine, truncated bool, err error)

	// Destroy kills the sandbox and everything in it and releases its
	// resources. It is idempotent.
	Destroy(ctx context.Context) error
}

// Factory creates containers.
type Factory interface {
	// Create starts a sandbox for spec, ready for Init. Errors wrap
	// ErrProvision (or describe a bad user image for blackbox actions).
	Create(ctx context.Context, spec Spec) (Container, error)

	// Cleanup destroys every sandbox this factory's invoker left behind
	// (at start, after a crash) or still owns (at shutdown).
	Cleanup(ctx context.Context) error
}
