package controller

import (
	"context"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
)

// entityCache keeps actions and packages read from the entity store, keyed
// by kind and document id, for the invoke hot path. Every write or delete
// this controller performs invalidates the entry; entries also expire after
// a TTL (bounding staleness when another controller writes). Cached
// documents are shared: callers must not modify them.
type entityCache struct {
	mu      sync.RWMutex
	entries map[cacheKey]cacheEntry
	max     int
	ttl     time.Duration
	now     func() time.Time
	// gen counts invalidations, so a read that raced with a write does not
	// store the stale document it read.
	gen uint64
}

type cacheKey struct {
	kind  entity.Kind
	docID string
}

type cacheEntry struct {
	doc     entity.Document
	expires time.Time
}

func newEntityCache(max int, ttl time.Duration, now func() time.Time) *entityCache {
	return &entityCache{entries: map[cacheKey]cacheEntry{}, max: max, ttl: ttl, now: now}
}

func (ec *entityCache) get(k cacheKey) (entity.Document, uint64, bool) {
	ec.mu.RLock()
	e, ok := ec.entries[k]
	gen := ec.gen
	ec.mu.RUnlock()
	if !ok || ec.now().After(e.expires) {
		return nil, gen, false
	}
	return e.doc, gen, true
}

// put stores doc unless an invalidation happened since gen was read.
func (ec *entityCache) put(k cacheKey, doc entity.Document, gen uint64) {
	now := ec.now()
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if ec.gen != gen {
		return
	}
	if len(ec.entries) >= ec.max {
		for key, e := range ec.entries {
			if now.After(e.expires) || len(ec.entries) >= ec.max {
				delete(ec.entries, key)
			}
		}
	}
	ec.entries[k] = cacheEntry{doc: doc, expires: now.Add(ec.ttl)}
}

func (ec *entityCache) invalidate(k cacheKey) {
	ec.mu.Lock()
	delete(ec.entries, k)
	ec.gen++
	ec.mu.Unlock()
}

// cachedGet returns the document of kind k named name through the cache.
// Errors are the store's (ErrNotFound, ErrWrongCollection, ...), never
// cached.
func (s *Server) cachedGet(ctx context.Context, k entity.Kind, name entity.FQN) (entity.Document, error) {
	key := cacheKey{kind: k, docID: name.DocID()}
	d, gen, ok := s.entities.get(key)
	if ok {
		return d, nil
	}
	d, err := s.cfg.Entities.Get(ctx, k, name)
	if err != nil {
		return nil, err
	}
	s.entities.put(key, d, gen)
	return d, nil
}

// getAction returns the action stored under name (no binding resolution,
// no parameter merging) from the entity cache. The result is shared: do
// not modify it. Errors: ErrNotFound, ErrWrongCollection, store errors.
func (s *Server) getAction(ctx context.Context, name entity.FQN) (*entity.Action, error) {
	d, err := s.cachedGet(ctx, entity.KindAction, name)
	if err != nil {
		return nil, err
	}
	a, ok := d.(*entity.Action)
	if !ok {
		return nil, entity.ErrWrongCollection
	}
	return a, nil
}

// getPackage returns the package (or binding) stored under name from the
// entity cache. The result is shared: do not modify it.
func (s *Server) getPackage(ctx context.Context, name entity.FQN) (*entity.Package, error) {
	d, err := s.cachedGet(ctx, entity.KindPackage, name)
	if err != nil {
		return nil, err
	}
	p, ok := d.(*entity.Package)
	if !ok {
		return nil, entity.ErrWrongCollection
	}
	return p, nil
}

// Invalidate drops a cached entity. The controller calls it on each of its
// own writes and deletes; a distributed deployment calls it for writes of
// other controllers (cache invalidation messages).
func (s *Server) Invalidate(k entity.Kind, name entity.FQN) {
	s.entities.invalidate(cacheKey{kind: k, docID: name.DocID()})
}
