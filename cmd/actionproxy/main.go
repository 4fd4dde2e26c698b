// Command actionproxy is gowhisk's action proxy for runtime images: it
// serves OpenWhisk's /init and /run on port 8080 and runs the action with a
// launcher (runtimes/proxy).
//
//	actionproxy [-listen :8080] [-launcher "node /runtimes/nodejs/launcher.js"] [-kind nodejs] [-workdir /action] [-token T]
//
// Each flag has an environment default: OW_LISTEN, OW_LAUNCHER, OW_KIND,
// OW_WORKDIR, OW_PROXY_TOKEN. An empty launcher (or "native") runs native
// executables as OpenWhisk's docker skeleton does; the kind is then
// "native", else it is inferred from the launcher path when not given.
//
// A token (the Docker sandbox passes a random one per container) is sent
// in the X-OW-Proxy-Token header of every answer, so that the invoker can
// tell its container's proxy from another one on the same host port
// (GET /ready is the probe); it is not passed on to the action. When the
// listen address is taken, actionproxy exits with code 98 (EADDRINUSE)
// before starting the launcher.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gowhisk/gowhisk/runtimes/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "actionproxy:", err)
		os.Exit(exitCode(err))
	}
}

var errUsage = errors.New("usage")

// exitCode is the process exit code for run's error.
func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, syscall.EADDRINUSE):
		return proxy.ExitAddrInUse
	}
	return 1
}

type options struct {
	listen, launcher, kind, workdir, token string
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	def := func(k, d string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return d
	}
	var o options
	fs := flag.NewFlagSet("actionproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", def("OW_LISTEN", ":8080"), "listen address (env OW_LISTEN)")
	fs.StringVar(&o.launcher, "launcher", def("OW_LAUNCHER", ""), "launcher command line, space separated; empty or \"native\" runs native executables (env OW_LAUNCHER)")
	fs.StringVar(&o.kind, "kind", def("OW_KIND", ""), "nodejs, python or native; inferred from the launcher when empty (env OW_KIND)")
	fs.StringVar(&o.workdir, "workdir", def("OW_WORKDIR", "/action"), "directory for the action code (env OW_WORKDIR)")
	fs.StringVar(&o.token, "token", def(proxy.TokenEnv, ""), "identity token sent in the "+proxy.TokenHeader+" header of every answer (env "+proxy.TokenEnv+")")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if o.launcher == "native" {
		o.launcher = ""
	}
	if o.kind == "" {
		o.kind = inferKind(o.launcher)
	}
	if o.kind == "" {
		return o, fmt.Errorf("%w: cannot infer the kind of launcher %q: set -kind", errUsage, o.launcher)
	}
	return o, nil
}

// inferKind guesses the kind from the launcher command line.
func inferKind(launcher string) string {
	switch {
	case launcher == "":
		return "native"
	case strings.Contains(launcher, "nodejs") || strings.Contains(launcher, "node "):
		return "nodejs"
	case strings.Contains(launcher, "python"):
		return "python"
	}
	return ""
}

// run serves until ctx ends. The listener's address is sent on ready when
// it is not nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready ...chan<- string) error {
	o, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Listen first: a taken address ends the proxy before it starts a
	// launcher.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	p, err := proxy.New(proxy.Config{
		Launcher: strings.Fields(o.launcher),
		Kind:     o.kind,
		WorkDir:  o.workdir,
		Env:      withoutVar(os.Environ(), proxy.TokenEnv),
		Stdout:   stdout,
		Stderr:   stderr,
		Token:    o.token,
		Logger:   logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer p.Close()

	for _, c := range ready {
		c <- ln.Addr().String()
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// withoutVar is env without the variable name.
func withoutVar(env []string, name string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}
