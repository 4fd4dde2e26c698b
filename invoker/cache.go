package invoker

import (
	"context"
	"sync"

	"github.com/gowhisk/gowhisk/entity"
)

// actionCacheSize bounds the action cache.
const actionCacheSize = 1024

// actionCache holds actions by (document id, revision). An entry never
// goes stale: a revision names one immutable version of a document.
type actionCache struct {
	store entity.Store
	limit int

	mu      sync.Mutex
	entries map[actionKey]*entity.Action
}

type actionKey struct{ docID, rev string }

func newActionCache(s entity.Store, limit int) *actionCache {
	return &actionCache{store: s, limit: limit, entries: make(map[actionKey]*entity.Action)}
}

// get returns the action name at revision rev: from the cache, else from
// the store. When the store holds another revision (the action was
// updated since the message was sent) it retries without the revision and
// returns the current one, as OpenWhisk's invoker does. Errors are the
// store's (ErrNotFound, ErrWrongCollection, ...). The returned action is
// shared: callers must not modify it.
func (c *actionCache) get(ctx context.Context, name entity.FQN, rev string) (*entity.Action, error) {
	if rev != "" {
		c.mu.Lock()
		a := c.entries[actionKey{name.DocID(), rev}]
		c.mu.Unlock()
		if a != nil {
			return a, nil
		}
	}
	doc, err := c.store.Get(ctx, entity.KindAction, name)
	if err != nil {
		return nil, err
	}
	a, ok := doc.(*entity.Action)
	if !ok {
		return nil, entity.ErrWrongCollection
	}
	c.mu.Lock()
	if len(c.entries) >= c.limit {
		for k := range c.entries { // drop an arbitrary entry
			delete(c.entries, k)
			break
		}
	}
	c.entries[actionKey{name.DocID(), a.Revision()}] = a
	c.mu.Unlock()
	return a, nil
}
