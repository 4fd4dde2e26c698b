// Package proxy is gowhisk's HTTP action proxy: the process listening on
// port 8080 of a runtime image. It implements OpenWhisk's /init and /run
// (reference §3.2–3.5) and drives a launcher with the action-loop protocol
// (runtimes/actionloop), or, for the native skeleton, runs the action's
// executable once per activation.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
	"github.com/gowhisk/gowhisk/runtimes/actionloop"
)

// Messages of the Go action proxy (apache/openwhisk-runtime-go).
const (
	MsgInitTwice     = "Cannot initialize the action more than once."
	MsgNoAction      = "no action defined yet"
	MsgCommandExited = "command exited"
	MsgCannotStart   = "cannot start action: Command exited abruptly during initialization."
)

// DefaultMaxBody bounds /init and /run bodies (128 MiB).
const DefaultMaxBody = 128 << 20

// The identity and exit signals gowhisk's proxy adds to OpenWhisk's wire
// protocol (clients that do not know them see OpenWhisk's answers):
const (
	// TokenEnv is the environment variable that gives cmd/actionproxy its
	// Config.Token (the Docker sandbox sets a random one per container).
	TokenEnv = "OW_PROXY_TOKEN"
	// TokenHeader carries Config.Token on every answer, so that a client
	// can tell its own proxy from another one listening on the same
	// address (host networking: another invoker's container may have
	// taken the port).
	TokenHeader = "X-OW-Proxy-Token"
	// ReadyPath answers GET (and HEAD) with 200 {"ok":true} once the proxy
	// listens, with TokenHeader: the readiness probe.
	ReadyPath = "/ready"
	// ChildExitedHeader is "true" on the "command exited" answers of /run
	// (OpenWhisk's 400, or 500 when the launcher had already exited): the
	// action's process is gone and this proxy cannot run it again.
	ChildExitedHeader = "X-OW-Child-Exited"
	// ExitAddrInUse is cmd/actionproxy's exit code when its listen address
	// is taken (EADDRINUSE on Linux).
	ExitAddrInUse = 98
)

// Config configures a Proxy.
type Config struct {
	// Launcher is the launcher's command line, e.g. ["node",
	// "/runtimes/nodejs/launcher.js"]. Empty: native executables run in
	// process (the docker skeleton).
	Launcher []string
	// Kind decides how /init code is prepared: "nodejs", "python",
	// "native" or "blackbox" (a kind such as "nodejs:20" works too).
	Kind string
	// WorkDir receives the action code (created if missing).
	WorkDir string
	// Env is the environment of the launcher or native executable.
	Env []string
	// Stdout and Stderr receive the action's logs (required).
	Stdout, Stderr io.Writer
	// StartTimeout bounds the launcher's start (default 30 s).
	StartTimeout time.Duration
	// MaxBody bounds request bodies (default DefaultMaxBody).
	MaxBody int64
	// Token, when set, is sent in TokenHeader on every answer.
	Token  string
	Logger *slog.Logger
}

// runner is what a launcher Process and a Native runner share.
type runner interface {
	Init(ctx context.Context, name, main, path string, env map[string]string) error
	Call(ctx context.Context, body []byte) (container.RunResult, error)
}

// Proxy is the http.Handler of /init and /run.
type Proxy struct {
	cfg Config

	started  chan struct{} // closed when the launcher start finished
	proc     *actionloop.Process
	native   *actionloop.Native
	startErr error

	mu     sync.Mutex
	inited bool   // an /init reached the launcher (or succeeded)
	run    runner // non-nil after a successful /init, nil again after an exit
}

// New validates cfg and starts the launcher in the background (a stem
// cell), so that /init only loads the action.
func New(cfg Config) (*Proxy, error) {
	if cfg.Stdout == nil || cfg.Stderr == nil {
		return nil, errors.New("proxy: Stdout and Stderr are required")
	}
	if _, err := actionloop.KindFamily(cfg.Kind); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("proxy: WorkDir is required")
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, started: make(chan struct{})}
	if len(cfg.Launcher) == 0 {
		p.native = &actionloop.Native{Env: cfg.Env, Stdout: cfg.Stdout, Stderr: cfg.Stderr}
		close(p.started)
		return p, nil
	}
	go func() {
		defer close(p.started)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
		defer cancel()
		cmd := exec.Command(cfg.Launcher[0], cfg.Launcher[1:]...)
		cmd.Env = cfg.Env
		cmd.Dir = cfg.WorkDir
		cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
		p.proc, p.startErr = actionloop.Start(ctx, cmd)
		if p.startErr != nil {
			cfg.Logger.Error("launcher did not start", "launcher", cfg.Launcher, "err", p.startErr)
		}
	}()
	return p, nil
}

// Close kills the launcher.
func (p *Proxy) Close() error {
	<-p.started
	if p.proc != nil {
		p.proc.Kill()
	}
	return nil
}

// ServeHTTP serves POST /init, POST /run and GET /ready.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.cfg.Token != "" {
		w.Header().Set(TokenHeader, p.cfg.Token)
	}
	switch r.URL.Path {
	case "/init", "/run":
	case ReadyPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			sendError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		sendJSON(w, http.StatusOK, []byte(`{"ok":true}`))
		return
	default:
		sendError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		sendError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			sendError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mb.Limit))
			return
		}
		sendError(w, http.StatusBadRequest, fmt.Sprintf("Error reading request body: %v", err))
		return
	}
	if r.URL.Path == "/init" {
		p.init(w, r.Context(), body)
	} else {
		p.runActivation(w, r.Context(), body)
	}
}

type initBody struct {
	Value struct {
		Name   string         `json:"name"`
		Main   string         `json:"main"`
		Code   string         `json:"code"`
		Binary bool           `json:"binary"`
		Env    map[string]any `json:"env"`
	} `json:"value"`
}

func (p *Proxy) init(w http.ResponseWriter, ctx context.Context, body []byte) {
	var req initBody
	if err := json.Unmarshal(body, &req); err != nil {
		sendError(w, http.StatusBadRequest, fmt.Sprintf("Error unmarshaling request: %v", err))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock() // one /init at a time; a second one waits, then gets 403
	if p.inited {
		sendError(w, http.StatusForbidden, MsgInitTwice)
		return
	}
	v := req.Value
	if v.Code == "" {
		sendError(w, http.StatusForbidden, actionloop.MissingCode)
		return
	}
	dir, err := os.MkdirTemp(p.cfg.WorkDir, "action-")
	if err != nil {
		p.initFailed(w, http.StatusInternalServerError, err.Error())
		return
	}
	path, err := actionloop.Prepare(dir, p.cfg.Kind, container.InitRequest{
		Name: v.Name, Main: v.Main, Code: v.Code, Binary: v.Binary,
	})
	if err != nil {
		status := http.StatusBadGateway
		if !errors.Is(err, entity.ErrInvalid) && !errors.Is(err, entity.ErrTooLarge) {
			status = http.StatusInternalServerError
		}
		p.initFailed(w, status, err.Error())
		return
	}
	main := v.Main
	if main == "" {
		main = "main"
	}
	var rn runner = p.native
	if p.native == nil {
		select {
		case <-p.started:
		case <-ctx.Done():
			sendError(w, http.StatusBadGateway, MsgCannotStart)
			return
		}
		if p.startErr != nil {
			p.initFailed(w, http.StatusBadGateway, MsgCannotStart)
			return
		}
		rn = p.proc
	}
	p.inited = true
	err = rn.Init(ctx, v.Name, main, path, stringEnv(v.Env))
	var ie *container.InitError
	switch {
	case err == nil:
		p.run = rn
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "12")
		io.WriteString(w, "{\"ok\":true}\n")
	case errors.As(err, &ie):
		sendJSON(w, ie.Status, ie.Body)
	default:
		p.cfg.Logger.Error("init failed", "err", err)
		p.initFailed(w, http.StatusBadGateway, MsgCannotStart)
	}
}

// initFailed logs msg as the action's init log, frames it and answers.
func (p *Proxy) initFailed(w http.ResponseWriter, status int, msg string) {
	io.WriteString(p.cfg.Stderr, msg+"\n")
	p.sentinels()
	sendError(w, status, msg)
}

func (p *Proxy) sentinels() {
	io.WriteString(p.cfg.Stdout, container.Sentinel+"\n")
	io.WriteString(p.cfg.Stderr, container.Sentinel+"\n")
}

func (p *Proxy) runActivation(w http.ResponseWriter, ctx context.Context, body []byte) {
	p.mu.Lock()
	rn := p.run
	p.mu.Unlock()
	if rn == nil {
		sendError(w, http.StatusInternalServerError, MsgNoAction)
		return
	}
	if p.proc != nil {
		select {
		case <-p.proc.Exited():
			w.Header().Set(ChildExitedHeader, "true")
			sendError(w, http.StatusInternalServerError, MsgCommandExited)
			return
		default:
		}
	}
	res, err := rn.Call(ctx, body)
	if err != nil {
		p.sentinels()
		status := http.StatusBadRequest
		if errors.Is(err, container.ErrTimeout) {
			status = http.StatusBadGateway // the client gave up
		}
		if p.proc != nil {
			// Out of sync or gone: this proxy cannot run the action again.
			p.mu.Lock()
			p.run = nil
			p.mu.Unlock()
			p.proc.Kill()
		}
		p.cfg.Logger.Error("run failed", "err", err)
		if p.proc != nil {
			w.Header().Set(ChildExitedHeader, "true") // killed above
		}
		sendError(w, status, MsgCommandExited)
		return
	}
	sendJSON(w, res.Status, res.Body)
}

func sendJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func sendError(w http.ResponseWriter, status int, msg string) {
	sendJSON(w, status, actionloop.ErrorBody(msg))
}

// stringEnv stringifies /init env values as OpenWhisk does: strings as
// they are, null as "", anything else as compact JSON.
func stringEnv(env map[string]any) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		switch t := v.(type) {
		case string:
			out[k] = t
		case nil:
			out[k] = ""
		default:
			b, _ := json.Marshal(t)
			out[k] = string(b)
		}
	}
	return out
}
