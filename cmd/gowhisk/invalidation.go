package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/messaging"
)

// invalidationQueue bounds the cache invalidations waiting to be
// published; beyond it they are dropped (the cache entries still expire).
const invalidationQueue = 4096

// invalidations keeps the controllers' entity caches coherent (reference
// §6.6): every entity this controller writes is published as a
// CacheInvalidationMessage on the cacheInvalidation topic, off the request
// path; the messages of the other controllers, read in this controller's
// own consumer group, drop the entity from the local cache.
type invalidations struct {
	instance string // "controller<id>": the sender of this controller's messages
	producer messaging.Producer
	consumer messaging.Consumer
	log      *slog.Logger
	mu       sync.Mutex
	closed   bool        // the queue is closed
	queue    chan string // document ids
	// published and consumed end when their loops return.
	published, consumed chan struct{}
}

func newInvalidations(controllerID string, p messaging.Producer, c messaging.Consumer, log *slog.Logger) *invalidations {
	return &invalidations{
		instance: "controller" + controllerID, producer: p, consumer: c, log: log,
		queue: make(chan string, invalidationQueue), published: make(chan struct{}), consumed: make(chan struct{}),
	}
}

// written is the controller's OnEntityWrite hook: it queues the
// entity's invalidation without blocking.
func (iv *invalidations) written(_ entity.Kind, name entity.FQN) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.closed {
		return
	}
	select {
	case iv.queue <- name.DocID():
	default:
		iv.log.Warn("cache invalidation queue full; other controllers see the change when their entry expires", "entity", name.DocID())
	}
}

// start runs the publisher and the consumer, the consumer handing each
// other controller's invalidated document id to invalidate.
func (iv *invalidations) start(ctx context.Context, invalidate func(docID string)) {
	go func() {
		defer close(iv.published)
		iv.publish(ctx)
	}()
	go func() {
		defer close(iv.consumed)
		iv.consume(ctx, invalidate)
	}()
}

// publish sends the queued invalidations until the queue is closed (and
// drained) or ctx ends.
func (iv *invalidations) publish(ctx context.Context) {
	failing := false
	for docID := range iv.queue {
		m := messaging.CacheInvalidationMessage{Key: messaging.CacheKey{MainID: docID}, InstanceID: iv.instance}
		err := iv.producer.Send(ctx, messaging.TopicCacheInvalidation, m.AppendJSON(nil))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			iv.log.Warn("publishing cache invalidations fails; other controllers see changes when their entries expire", "err", err)
		case err == nil && failing:
			failing = false
			iv.log.Info("cache invalidations are published again")
		}
	}
}

// consume applies the other controllers' invalidations until the
// consumer is closed or ctx ends.
func (iv *invalidations) consume(ctx context.Context, invalidate func(docID string)) {
	for {
		m, err := iv.consumer.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, messaging.ErrClosed) {
				return
			}
			iv.log.Debug("fetching cache invalidations; retrying", "err", err)
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		if err := iv.consumer.Commit(ctx, m); err != nil {
			iv.log.Debug("committing a cache invalidation", "err", err)
		}
		var msg messaging.CacheInvalidationMessage
		if err := json.Unmarshal(m.Value, &msg); err != nil {
			iv.log.Warn("dropping a malformed cache invalidation", "offset", m.Offset, "err", err)
			continue
		}
		if msg.InstanceID == iv.instance {
			continue
		}
		invalidate(msg.Key.MainID)
	}
}

// stop publishes what is queued (bounded by ctx), then closes the
// consumer and waits for both loops.
func (iv *invalidations) stop(ctx context.Context) {
	iv.mu.Lock()
	if !iv.closed {
		iv.closed = true
		close(iv.queue)
	}
	iv.mu.Unlock()
	select {
	case <-iv.published:
	case <-ctx.Done():
	}
	_ = iv.consumer.Close()
	select {
	case <-iv.consumed:
	case <-ctx.Done():
	}
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
