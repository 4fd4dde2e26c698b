package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
)

// entityStore implements entity.Store (OpenWhisk's whisks database).
//
// Layout: bucketEntities holds each document's stored JSON (entity.
// MarshalStored, with "_id", "_rev" and "entityType") under its doc id;
// bucketEntityMeta holds its kind, updated time and revision, so that
// conflict checks and index maintenance need no JSON decoding;
// bucketEntityIndex orders documents for List like OpenWhisk's views:
// by kind and path, newest update first, with a packaged action indexed
// under its package and under its namespace.
type entityStore struct {
	db *bolt.DB
}

// revDoc overrides a document's revision for marshaling.
type revDoc struct {
	entity.Document
	rev string
}

func (r revDoc) Revision() string             { return r.rev }
func (r revDoc) MarshalJSON() ([]byte, error) { return json.Marshal(r.Document) }

// entityMeta is the decoded value of bucketEntityMeta.
type entityMeta struct {
	updated int64
	kind    entity.Kind
	rev     string
}

func encodeMeta(updated int64, kind entity.Kind, rev string) []byte {
	b := make([]byte, 0, 9+len(kind)+len(rev))
	b = putOrdered(b, updated)
	b = append(b, byte(len(kind)))
	b = append(b, kind...)
	return append(b, rev...)
}

func decodeMeta(b []byte) (entityMeta, bool) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return entityMeta{}, false
	}
	k := int(b[8])
	return entityMeta{updated: getOrdered(b), kind: entity.Kind(b[9 : 9+k]), rev: string(b[9+k:])}, true
}

// metaIs reports whether encoded meta b has kind k, without allocating.
func metaIs(b []byte, k entity.Kind) bool {
	return len(b) >= 9 && len(b) >= 9+int(b[8]) && string(b[9:9+int(b[8])]) == string(k)
}

// indexPaths are the paths a document is listed under.
func indexPaths(name entity.FQN) []entity.EntityPath {
	if name.Path.Package() != "" {
		return []entity.EntityPath{name.Path, entity.EntityPath(name.Path.Root())}
	}
	return []entity.EntityPath{name.Path}
}

func indexPrefix(k entity.Kind, path entity.EntityPath) []byte {
	return append(join(string(k), string(path)), 0)
}

func indexKey(k entity.Kind, path entity.EntityPath, updated int64, docID string) []byte {
	b := indexPrefix(k, path)
	b = putDescending(b, updated)
	return append(b, docID...)
}

func (s *entityStore) Get(ctx context.Context, k entity.Kind, name entity.FQN) (entity.Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := entity.NewDocument(k)
	if err != nil {
		return nil, entity.Errorf(entity.ErrInvalid, "%v", err)
	}
	var idBuf [128]byte
	id := append(idBuf[:0], name.Path...)
	id = append(id, '/')
	id = append(id, name.Name...)
	err = s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketEntityMeta).Get(id)
		if meta == nil {
			return entity.ErrNotFound
		}
		if !metaIs(meta, k) {
			return entity.ErrWrongCollection
		}
		m, _ := decodeMeta(meta)
		body := tx.Bucket(bucketEntities).Get(id)
		if body == nil {
			return entity.ErrNotFound
		}
		if err := json.Unmarshal(body, doc); err != nil {
			return fmt.Errorf("boltstore: decode %s: %w", id, err)
		}
		doc.SetRevision(m.rev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

func (s *entityStore) Put(ctx context.Context, doc entity.Document) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if doc == nil {
		return "", entity.Invalidf("no document")
	}
	name, kind, old := doc.FullName(), doc.EntityKind(), doc.Revision()
	if !name.Valid() {
		return "", entity.Invalidf(entity.MsgIllegalName)
	}
	if _, err := entity.NewDocument(kind); err != nil {
		return "", entity.Invalidf("%v", err)
	}
	rev, ok := nextRev(old)
	if !ok {
		return "", entity.ErrConflict // no stored document can have this revision
	}
	body, err := entity.MarshalStored(revDoc{Document: doc, rev: rev})
	if err != nil {
		return "", fmt.Errorf("boltstore: encode %s: %w", name.DocID(), err)
	}
	docID := name.DocID()
	id := []byte(docID)
	updated := doc.UpdatedAt()
	err = s.db.Update(func(tx *bolt.Tx) error {
		metaB, index := tx.Bucket(bucketEntityMeta), tx.Bucket(bucketEntityIndex)
		raw := metaB.Get(id)
		switch {
		case old == "" && raw != nil:
			return entity.ErrExists
		case old != "" && raw == nil:
			return entity.ErrConflict
		}
		if raw != nil {
			m, ok := decodeMeta(raw)
			if !ok || m.rev != old {
				return entity.ErrConflict
			}
			for _, p := range indexPaths(name) {
				if err := index.Delete(indexKey(m.kind, p, m.updated, docID)); err != nil {
					return err
				}
			}
		}
		for _, p := range indexPaths(name) {
			if err := index.Put(indexKey(kind, p, updated, docID), nil); err != nil {
				return err
			}
		}
		if err := metaB.Put(id, encodeMeta(updated, kind, rev)); err != nil {
			return err
		}
		return tx.Bucket(bucketEntities).Put(id, body)
	})
	if err != nil {
		return "", err
	}
	return rev, nil
}

func (s *entityStore) Delete(ctx context.Context, k entity.Kind, name entity.FQN, rev string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	docID := name.DocID()
	id := []byte(docID)
	return s.db.Update(func(tx *bolt.Tx) error {
		metaB := tx.Bucket(bucketEntityMeta)
		raw := metaB.Get(id)
		if raw == nil {
			return entity.ErrNotFound
		}
		m, ok := decodeMeta(raw)
		switch {
		case !ok:
			return fmt.Errorf("boltstore: corrupt metadata for %s", docID)
		case m.kind != k:
			return entity.ErrWrongCollection
		case rev != "" && rev != m.rev:
			return entity.ErrConflict
		}
		index := tx.Bucket(bucketEntityIndex)
		for _, p := range indexPaths(name) {
			if err := index.Delete(indexKey(m.kind, p, m.updated, docID)); err != nil {
				return err
			}
		}
		if err := metaB.Delete(id); err != nil {
			return err
		}
		return tx.Bucket(bucketEntities).Delete(id)
	})
}

func (s *entityStore) List(ctx context.Context, k entity.Kind, path entity.EntityPath, q entity.ListQuery) ([]entity.Document, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := entity.NewDocument(k); err != nil {
		return nil, entity.Invalidf("%v", err)
	}
	prefix := indexPrefix(k, path)
	var out []entity.Document
	err := s.db.View(func(tx *bolt.Tx) error {
		metaB, bodies := tx.Bucket(bucketEntityMeta), tx.Bucket(bucketEntities)
		c := tx.Bucket(bucketEntityIndex).Cursor()
		skip := q.Skip
		for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
			if skip > 0 {
				skip--
				continue
			}
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
			id := key[len(prefix)+8:]
			m, ok := decodeMeta(metaB.Get(id))
			body := bodies.Get(id)
			if !ok || body == nil {
				return fmt.Errorf("boltstore: index entry without document %s", id)
			}
			doc, _ := entity.NewDocument(k)
			if err := json.Unmarshal(body, doc); err != nil {
				return fmt.Errorf("boltstore: decode %s: %w", id, err)
			}
			doc.SetRevision(m.rev)
			out = append(out, doc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *entityStore) Count(ctx context.Context, k entity.Kind, path entity.EntityPath) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	prefix := indexPrefix(k, path)
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEntityIndex).Cursor()
		for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}
