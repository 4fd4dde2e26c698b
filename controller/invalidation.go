package controller

import (
	"context"

	"github.com/gowhisk/gowhisk/entity"
)

// notifyingStore is the entity store as the controller writes through it
// when Config.OnEntityWrite is set: every successful Put and Delete calls
// the hook after the store has the change, whichever route made it
// (actions, packages and their forced deletes, triggers, rules and the
// rule links they write into triggers).
type notifyingStore struct {
	entity.Store
	onWrite func(kind entity.Kind, name entity.FQN)
}

func (n notifyingStore) Put(ctx context.Context, doc entity.Document) (string, error) {
	rev, err := n.Store.Put(ctx, doc)
	if err == nil {
		n.onWrite(doc.EntityKind(), doc.FullName())
	}
	return rev, err
}

func (n notifyingStore) Delete(ctx context.Context, k entity.Kind, name entity.FQN, rev string) error {
	err := n.Store.Delete(ctx, k, name, rev)
	if err == nil {
		n.onWrite(k, name)
	}
	return err
}

// InvalidateDocID drops every cached entity whose document id is docID
// ("ns/name" or "ns/pkg/name"), whatever its kind: what a cache
// invalidation message from another controller names (its key carries no
// kind, reference §6.6).
func (s *Server) InvalidateDocID(docID string) {
	for _, k := range entity.Kinds() {
		s.entities.invalidate(cacheKey{kind: k, docID: docID})
	}
}
