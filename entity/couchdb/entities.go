package couchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/gowhisk/gowhisk/entity"
)

// deleteAttempts bounds how often an unconditional delete re-reads the
// revision after losing a race with a concurrent writer.
const deleteAttempts = 3

// entityStore is the whisks database: actions, triggers, rules, packages.
type entityStore struct {
	db *kivik.DB
}

var _ entity.Store = (*entityStore)(nil)

// reservedID reports whether CouchDB reserves the document id (design and
// local documents, _-prefixed ids): the stores never read or write those
// on behalf of an entity name.
func reservedID(id string) bool { return strings.HasPrefix(id, "_") }

// readDoc returns the stored JSON of document id and its revision, read
// from the body (never from the ETag, which pouchdb-server does not set to
// the revision). ErrNotFound if it is absent or deleted.
func readDoc(ctx context.Context, db *kivik.DB, id string) (json.RawMessage, string, error) {
	if reservedID(id) {
		return nil, "", entity.ErrNotFound
	}
	var raw json.RawMessage
	if err := db.Get(ctx, id).ScanDoc(&raw); err != nil {
		return nil, "", storeError("read "+id, err)
	}
	var r struct {
		Rev string `json:"_rev"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, "", fmt.Errorf("couchdb: decode %s: %w", id, err)
	}
	return raw, r.Rev, nil
}

// createDoc writes a new document: ErrExists if the id is taken.
func createDoc(ctx context.Context, db *kivik.DB, id string, body []byte) (string, error) {
	if reservedID(id) {
		return "", entity.Invalidf("illegal document id %q", id)
	}
	rev, err := db.Put(ctx, id, json.RawMessage(body))
	if isStatus(err, http.StatusConflict) {
		return "", entity.ErrExists
	}
	return rev, storeError("create "+id, err)
}

// updateDoc writes body (which carries _rev = rev) over the document at
// revision rev: ErrConflict if the stored revision differs or the document
// is gone. The stored revision is read first because pouchdb-server, unlike
// CouchDB, accepts a write at an unknown revision to a missing or deleted
// document (it resurrects it); CouchDB's own check then covers the race
// with a concurrent writer.
func updateDoc(ctx context.Context, db *kivik.DB, id, rev string, body []byte) (string, error) {
	_, cur, err := readDoc(ctx, db, id)
	if errors.Is(err, entity.ErrNotFound) || (err == nil && cur != rev) {
		return "", entity.ErrConflict
	}
	if err != nil {
		return "", err
	}
	newRev, err := db.Put(ctx, id, json.RawMessage(body))
	return newRev, storeError("update "+id, err)
}

// deleteDoc deletes revision rev of document id with _bulk_docs and
// _deleted:true (pouchdb-server's DELETE answers 404 for a stale revision,
// and its ETag is not the revision). ErrConflict if rev is stale.
func deleteDoc(ctx context.Context, db *kivik.DB, id, rev string) error {
	res, err := db.BulkDocs(ctx, []any{map[string]any{"_id": id, "_rev": rev, "_deleted": true}})
	if err != nil {
		return storeError("delete "+id, err)
	}
	if len(res) != 1 {
		return fmt.Errorf("couchdb: delete %s: %d results for one document", id, len(res))
	}
	return storeError("delete "+id, res[0].Error)
}

// Get implements entity.Store.
func (s *entityStore) Get(ctx context.Context, k entity.Kind, name entity.FQN) (entity.Document, error) {
	if _, err := entityView(k); err != nil {
		return nil, err
	}
	raw, rev, err := readDoc(ctx, s.db, name.DocID())
	if err != nil {
		return nil, err
	}
	return decodeEntity(raw, rev, k)
}

// decodeEntity decodes a stored entity, checking that it is of kind k.
func decodeEntity(raw json.RawMessage, rev string, k entity.Kind) (entity.Document, error) {
	got, err := entity.StoredKind(raw)
	if err != nil {
		return nil, fmt.Errorf("couchdb: decode stored entity: %w", err)
	}
	if got != k {
		return nil, entity.ErrWrongCollection
	}
	d, err := entity.UnmarshalStored(raw, rev)
	if err != nil {
		return nil, fmt.Errorf("couchdb: decode stored %s: %w", k, err)
	}
	return d, nil
}

// Put implements entity.Store.
func (s *entityStore) Put(ctx context.Context, doc entity.Document) (string, error) {
	id := doc.FullName().DocID()
	if _, err := entityView(doc.EntityKind()); err != nil {
		return "", err
	}
	body, err := entity.MarshalStored(doc)
	if err != nil {
		return "", fmt.Errorf("couchdb: encode %s: %w", id, err)
	}
	if doc.Revision() == "" {
		return createDoc(ctx, s.db, id, body)
	}
	return updateDoc(ctx, s.db, id, doc.Revision(), body)
}

// Delete implements entity.Store.
func (s *entityStore) Delete(ctx context.Context, k entity.Kind, name entity.FQN, rev string) error {
	id := name.DocID()
	for attempt := 1; ; attempt++ {
		raw, cur, err := readDoc(ctx, s.db, id)
		if err != nil {
			return err
		}
		got, err := entity.StoredKind(raw)
		if err != nil {
			return fmt.Errorf("couchdb: decode stored entity %s: %w", id, err)
		}
		if got != k {
			return entity.ErrWrongCollection
		}
		if rev != "" && rev != cur {
			return entity.ErrConflict
		}
		err = deleteDoc(ctx, s.db, id, cur)
		if errors.Is(err, entity.ErrConflict) && rev == "" && attempt < deleteAttempts {
			continue // a concurrent update: delete whatever is current now
		}
		return err
	}
}

// List implements entity.Store. The documents are read with include_docs
// (full documents with their revisions, not the view's summaries).
func (s *entityStore) List(ctx context.Context, k entity.Kind, path entity.EntityPath, q entity.ListQuery) ([]entity.Document, error) {
	v, err := entityView(k)
	if err != nil {
		return nil, err
	}
	rq := rangeQuery{prefix: string(path), skip: q.Skip, limit: q.Limit, docs: true}
	rows, err := queryDocs(ctx, s.db, ddocWhisks, v, rq.params())
	if err != nil {
		return nil, err
	}
	out := make([]entity.Document, 0, len(rows))
	for _, raw := range rows {
		d, err := decodeEntity(raw, "", k)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Count implements entity.Store.
func (s *entityStore) Count(ctx context.Context, k entity.Kind, path entity.EntityPath) (int, error) {
	v, err := entityView(k)
	if err != nil {
		return 0, err
	}
	return queryCount(ctx, s.db, ddocWhisks, v, rangeQuery{prefix: string(path), reduce: true}.params())
}
