// Command wsk is gowhisk's OpenWhisk-compatible command-line client. It
// wires the process environment into wskcli.Main.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gowhisk/gowhisk/wskcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	home, _ := os.UserHomeDir()
	code := wskcli.Main(ctx, wskcli.Env{
		Args:      os.Args[1:],
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		StdoutTTY: isTerminal(os.Stdout),
		StderrTTY: isTerminal(os.Stderr),
		Getenv:    os.Getenv,
		HomeDir:   home,
		Getwd:     os.Getwd,
		Version:   version(),
	})
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// version is the commit time of the build, as the original CLI shows its
// build time; "not set" without VCS information.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "not set"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.time" {
			return s.Value
		}
	}
	return "not set"
}
