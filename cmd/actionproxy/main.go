// Command actionproxy is gowhisk's action proxy for runtime images: it
// serves OpenWhisk's /init and /run on port 8080 and runs the action with a
// launcher (runtimes/proxy).
//
//	actionproxy [-listen :8080] [-launcher "node /runtimes/nodejs/launcher.js"] [-kind nodejs] [-workdir /action]
//
// Each flag has an environment default: OW_LISTEN, OW_LAUNCHER, OW_KIND,
// OW_WORKDIR. An empty launcher (or "native") runs native executables as
// OpenWhisk's docker skeleton does; the kind is then "native", else it is
// inferred from the launcher path when not given.
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
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

type options struct {
	listen, launcher, kind, workdir string
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
	p, err := proxy.New(proxy.Config{
		Launcher: strings.Fields(o.launcher),
		Kind:     o.kind,
		WorkDir:  o.workdir,
		Env:      os.Environ(),
		Stdout:   stdout,
		Stderr:   stderr,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
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
