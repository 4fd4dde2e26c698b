package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gowhisk/gowhisk/controller"
)

// serveAPI serves the controller's API on ln until serving fails or ctx
// ends (SIGINT, SIGTERM), then shuts down in order: HTTP (letting requests
// in progress finish, bounded by timeout), the controller's background
// work (trigger fires), and then closeRest, whose error is returned unless
// serving had failed first. stop is called when ctx ends, so that a second
// signal ends the process at once.
func serveAPI(ctx context.Context, stop context.CancelFunc, log *slog.Logger, srv *controller.Server, ln net.Listener,
	timeout time.Duration, closeRest func(context.Context) error) error {
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       70 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	var runErr error
	select {
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		stop()
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time", "err", err)
		_ = hs.Close()
	}
	if err := srv.Close(sctx); err != nil {
		log.Warn("trigger fires did not finish in time", "err", err)
	}
	if err := closeRest(sctx); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}
