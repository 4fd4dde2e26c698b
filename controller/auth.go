package controller

import (
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// authenticate is the middleware of every /api/v1/namespaces route: HTTP
// Basic uuid:key checked against Config.Subjects through the identity
// cache. Missing, malformed or wrong credentials give 401 with the
// WWW-Authenticate challenge. Entitlement (own vs foreign namespace) is
// decided by each handler.
func (s *Server) authenticate(c *gin.Context) {
	uuid, key, ok := basicCredentials(c.GetHeader("Authorization"))
	if !ok {
		s.abort(c, entity.Errorf(entity.ErrUnauthenticated, msgMissingCredentials))
		return
	}
	if id, ok := s.ids.get(uuid, key); ok {
		c.Set(keyIdentity, id)
		c.Next()
		return
	}
	if len(key) != entity.KeyLength || uuid == "" || len(uuid) > 64 {
		s.abort(c, entity.ErrUnauthenticated)
		return
	}
	id, err := s.cfg.Subjects.Authenticate(ctx(c), uuid, key)
	if err != nil {
		s.abort(c, err)
		return
	}
	s.ids.put(uuid, key, id)
	c.Set(keyIdentity, id)
	c.Next()
}

// basicCredentials parses an "Authorization: Basic base64(uuid:key)"
// header value.
func basicCredentials(h string) (uuid, key string, ok bool) {
	scheme, enc, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	uuid, key, ok = entity.SplitAuth(string(raw))
	if !ok {
		return "", "", false
	}
	return uuid, key, true
}

// identityCache keeps successful authentications for a while, bounded in
// size. Failures are not cached.
type identityCache struct {
	mu      sync.RWMutex
	entries map[string]identityEntry
	max     int
	ttl     time.Duration
	now     func() time.Time
}

type identityEntry struct {
	id      entity.Identity
	expires time.Time
}

func newIdentityCache(max int, ttl time.Duration, now func() time.Time) *identityCache {
	return &identityCache{entries: map[string]identityEntry{}, max: max, ttl: ttl, now: now}
}

func (ic *identityCache) get(uuid, key string) (entity.Identity, bool) {
	k := uuid + ":" + key
	ic.mu.RLock()
	e, ok := ic.entries[k]
	ic.mu.RUnlock()
	if !ok || ic.now().After(e.expires) {
		return entity.Identity{}, false
	}
	return e.id, true
}

func (ic *identityCache) put(uuid, key string, id entity.Identity) {
	now := ic.now()
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if len(ic.entries) >= ic.max {
		for k, e := range ic.entries {
			if now.After(e.expires) {
				delete(ic.entries, k)
			}
		}
		// Still full: drop arbitrary entries (map order is random).
		for k := range ic.entries {
			if len(ic.entries) < ic.max {
				break
			}
			delete(ic.entries, k)
		}
	}
	ic.entries[uuid+":"+key] = identityEntry{id: id, expires: now.Add(ic.ttl)}
}

// InvalidateIdentities drops every cached authentication, e.g. after keys
// or namespace limits changed.
func (s *Server) InvalidateIdentities() {
	s.ids.mu.Lock()
	clear(s.ids.entries)
	s.ids.mu.Unlock()
}
