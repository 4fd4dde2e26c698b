package invoker

import (
	"context"
	"time"

	"github.com/gowhisk/gowhisk/messaging"
)

// DefaultPingInterval is how often an invoker announces itself on the
// health topic (reference §5.3: every second; a controller marks an
// invoker down after 10 s without a ping).
const DefaultPingInterval = time.Second

// Ping sends one PingMessage {"name": this invoker's instance id,
// "isEnabled": enabled} on messaging.TopicHealth. A ping with enabled
// false tells the controllers to stop sending work at once (an invoker
// that is stopping). Errors are the producer's.
func (inv *Invoker) Ping(ctx context.Context, enabled bool) error {
	m := messaging.PingMessage{Invoker: inv.self, IsEnabled: enabled}
	return inv.cfg.Producer.Send(ctx, messaging.TopicHealth, m.AppendJSON(make([]byte, 0, 160)))
}

// RunPings sends an enabled ping at once and then every interval
// (DefaultPingInterval if interval <= 0) until ctx ends, and returns
// ctx's error. A failed ping is logged when pings start failing and when
// they succeed again, not at every tick; each tick sends a new ping (a
// late one is worthless).
func (inv *Invoker) RunPings(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultPingInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		// A ping that cannot be delivered within an interval is stale.
		pctx, cancel := context.WithTimeout(ctx, max(interval, 100*time.Millisecond))
		err := inv.Ping(pctx, true)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !failing:
			failing = true
			inv.log.Warn("invoker: pings to the controllers are failing; retrying every interval", "topic", messaging.TopicHealth, "err", err)
		case err == nil && failing:
			failing = false
			inv.log.Info("invoker: pings are delivered again", "topic", messaging.TopicHealth)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
