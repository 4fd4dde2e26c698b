package couchdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/gowhisk/gowhisk/entity"
)

// limitsSuffix ends the id of a namespace's limits document.
const limitsSuffix = "/limits"

// writeAttempts bounds read-then-write loops that lose races with
// concurrent writers.
const writeAttempts = 3

// subjectStore is the subjects database: subject documents (_id = subject)
// and limits documents (_id = "<namespace>/limits").
type subjectStore struct {
	db *kivik.DB
}

var _ entity.SubjectAdmin = (*subjectStore)(nil)

// subjectDoc is the stored form of a subject (OpenWhisk's auth document).
type subjectDoc struct {
	ID         string                `json:"_id"`
	Rev        string                `json:"_rev,omitempty"`
	Subject    *string               `json:"subject"`
	Namespaces []entity.NamespaceKey `json:"namespaces"`
	Blocked    bool                  `json:"blocked,omitempty"`
}

// decodeSubject decodes a subject document; ok is false for documents of
// the subjects database that are not subjects (limits, design documents).
func decodeSubject(raw []byte) (s entity.Subject, ok bool, err error) {
	var d subjectDoc
	if err := json.Unmarshal(raw, &d); err != nil {
		return entity.Subject{}, false, fmt.Errorf("couchdb: decode subject: %w", err)
	}
	if d.Subject == nil || reservedID(d.ID) {
		return entity.Subject{}, false, nil
	}
	if d.Namespaces == nil {
		d.Namespaces = []entity.NamespaceKey{}
	}
	return entity.Subject{Subject: *d.Subject, Namespaces: d.Namespaces, Blocked: d.Blocked, Rev: d.Rev}, true, nil
}

// checkSubjectName rejects subject names that cannot be document ids or
// would read as a limits document.
func checkSubjectName(name string) error {
	switch {
	case name == "":
		return entity.Invalidf("subject name is empty")
	case reservedID(name):
		return entity.Invalidf("subject name %q may not start with an underscore", name)
	case strings.HasSuffix(name, limitsSuffix):
		return entity.Invalidf("subject name %q may not end with %q", name, limitsSuffix)
	}
	return nil
}

// GetSubject implements entity.SubjectAdmin.
func (s *subjectStore) GetSubject(ctx context.Context, subject string) (entity.Subject, error) {
	raw, _, err := readDoc(ctx, s.db, subject)
	if err != nil {
		return entity.Subject{}, err
	}
	sub, ok, err := decodeSubject(raw)
	if err != nil {
		return entity.Subject{}, err
	}
	if !ok {
		return entity.Subject{}, entity.ErrNotFound
	}
	return sub, nil
}

// PutSubject implements entity.SubjectAdmin. Credentials are checked
// against every subject, blocked ones included (gowhisk's credentials
// view); two processes racing to give the same key to two subjects are
// not detected.
func (s *subjectStore) PutSubject(ctx context.Context, sub entity.Subject) (string, error) {
	if err := checkSubjectName(sub.Subject); err != nil {
		return "", err
	}
	for _, ns := range sub.Namespaces {
		owners, err := queryIDs(ctx, s.db, ddocCredentials, viewCredentials, map[string]any{"key": []any{ns.UUID, ns.Key}})
		if err != nil {
			return "", err
		}
		for _, owner := range owners {
			if owner != sub.Subject {
				return "", entity.Errorf(entity.ErrExists, "the credentials of namespace %s are already in use", ns.Name)
			}
		}
	}
	name := sub.Subject
	doc := subjectDoc{ID: sub.Subject, Rev: sub.Rev, Subject: &name, Namespaces: sub.Namespaces, Blocked: sub.Blocked}
	if doc.Namespaces == nil {
		doc.Namespaces = []entity.NamespaceKey{}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("couchdb: encode subject: %w", err)
	}
	if sub.Rev == "" {
		return createDoc(ctx, s.db, sub.Subject, body)
	}
	return updateDoc(ctx, s.db, sub.Subject, sub.Rev, body)
}

// DeleteSubject implements entity.SubjectAdmin.
func (s *subjectStore) DeleteSubject(ctx context.Context, subject string) error {
	return deleteCurrent(ctx, s.db, subject, func(raw []byte) error {
		if _, ok, err := decodeSubject(raw); err != nil || !ok {
			return cmpErr(err, entity.ErrNotFound)
		}
		return nil
	})
}

// cmpErr returns err if set, else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// deleteCurrent deletes document id at whatever revision is current,
// after check accepts its content. ErrNotFound if it is absent.
func deleteCurrent(ctx context.Context, db *kivik.DB, id string, check func(raw []byte) error) error {
	for attempt := 1; ; attempt++ {
		raw, rev, err := readDoc(ctx, db, id)
		if err != nil {
			return err
		}
		if err := check(raw); err != nil {
			return err
		}
		err = deleteDoc(ctx, db, id, rev)
		if errors.Is(err, entity.ErrConflict) && attempt < writeAttempts {
			continue
		}
		return err
	}
}

// ListSubjects implements entity.SubjectAdmin.
func (s *subjectStore) ListSubjects(ctx context.Context) ([]entity.Subject, error) {
	rs := s.db.AllDocs(ctx, kivik.IncludeDocs())
	defer rs.Close()
	out := []entity.Subject{}
	for rs.Next() {
		var raw json.RawMessage
		if err := rs.ScanDoc(&raw); err != nil {
			return nil, storeError("read subjects", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		sub, ok, err := decodeSubject(raw)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, sub)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, storeError("list subjects", err)
	}
	slices.SortFunc(out, func(a, b entity.Subject) int { return strings.Compare(a.Subject, b.Subject) })
	return out, nil
}

// identityRow is a row of the identities view.
type identityRow struct {
	Namespace string `json:"namespace"`
	UUID      string `json:"uuid"`
	Key       string `json:"key"`
}

// lookupIdentity reads the identities view at key with the linked limits
// documents: nil if no unblocked subject matches.
func (s *subjectStore) lookupIdentity(ctx context.Context, key []any) (*entity.Identity, error) {
	rs := s.db.Query(ctx, ddocSubjects, viewIdentities, kivik.Params(map[string]any{
		"key": key, "include_docs": true, "limit": 2,
	}))
	defer rs.Close()
	var found []entity.Identity
	for rs.Next() {
		subject, err := rs.ID()
		if err != nil {
			return nil, storeError("read identity", err)
		}
		var v identityRow
		if err := rs.ScanValue(&v); err != nil {
			return nil, storeError("read identity", err)
		}
		var limits entity.UserLimits
		var doc json.RawMessage
		// The linked limits document; null (or an error) when there is none.
		if rs.ScanDoc(&doc) == nil && len(doc) > 0 && string(doc) != "null" {
			if err := json.Unmarshal(doc, &limits); err != nil {
				return nil, fmt.Errorf("couchdb: decode limits of %s: %w", v.Namespace, err)
			}
		}
		found = append(found, entity.NewIdentity(subject, entity.NamespaceKey{Name: v.Namespace, UUID: v.UUID, Key: v.Key}, limits))
	}
	if err := rs.Err(); err != nil {
		return nil, storeError("query identities", err)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("couchdb: %d subjects match identity key %v", len(found), key[0])
}

// Authenticate implements entity.Subjects.
func (s *subjectStore) Authenticate(ctx context.Context, uuid, key string) (entity.Identity, error) {
	if uuid == "" || key == "" {
		return entity.Identity{}, entity.ErrUnauthenticated
	}
	id, err := s.lookupIdentity(ctx, []any{uuid, key})
	if err != nil {
		return entity.Identity{}, err
	}
	if id == nil {
		return entity.Identity{}, entity.ErrUnauthenticated
	}
	return *id, nil
}

// IdentityByNamespace implements entity.Subjects.
func (s *subjectStore) IdentityByNamespace(ctx context.Context, ns string) (entity.Identity, error) {
	if ns == "" {
		return entity.Identity{}, entity.ErrNotFound
	}
	id, err := s.lookupIdentity(ctx, []any{ns})
	if err != nil {
		return entity.Identity{}, err
	}
	if id == nil {
		return entity.Identity{}, entity.ErrNotFound
	}
	return *id, nil
}

// GetLimits implements entity.SubjectAdmin.
func (s *subjectStore) GetLimits(ctx context.Context, ns string) (entity.UserLimits, error) {
	raw, _, err := readDoc(ctx, s.db, ns+limitsSuffix)
	if errors.Is(err, entity.ErrNotFound) {
		return entity.UserLimits{}, nil
	}
	if err != nil {
		return entity.UserLimits{}, err
	}
	var l entity.UserLimits
	if err := json.Unmarshal(raw, &l); err != nil {
		return entity.UserLimits{}, fmt.Errorf("couchdb: decode limits of %s: %w", ns, err)
	}
	return l, nil
}

// limitsDoc encodes the limits document of ns at revision rev ("" for a
// new document).
func limitsDoc(ns, rev string, l entity.UserLimits) ([]byte, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	fields["_id"], _ = json.Marshal(ns + limitsSuffix)
	if rev != "" {
		fields["_rev"], _ = json.Marshal(rev)
	}
	return json.Marshal(fields)
}

// PutLimits implements entity.SubjectAdmin.
func (s *subjectStore) PutLimits(ctx context.Context, ns string, l entity.UserLimits) error {
	if ns == "" {
		return entity.Invalidf("namespace is empty")
	}
	id := ns + limitsSuffix
	for attempt := 1; ; attempt++ {
		_, rev, err := readDoc(ctx, s.db, id)
		if err != nil && !errors.Is(err, entity.ErrNotFound) {
			return err
		}
		body, err := limitsDoc(ns, rev, l)
		if err != nil {
			return fmt.Errorf("couchdb: encode limits of %s: %w", ns, err)
		}
		if rev == "" {
			_, err = createDoc(ctx, s.db, id, body)
		} else {
			// rev was just read from a live document: CouchDB's (and
			// pouchdb's) own check is enough here.
			_, err = s.db.Put(ctx, id, json.RawMessage(body))
			err = storeError("update "+id, err)
		}
		if (errors.Is(err, entity.ErrExists) || errors.Is(err, entity.ErrConflict)) && attempt < writeAttempts {
			continue
		}
		return err
	}
}

// DeleteLimits implements entity.SubjectAdmin.
func (s *subjectStore) DeleteLimits(ctx context.Context, ns string) error {
	return deleteCurrent(ctx, s.db, ns+limitsSuffix, func([]byte) error { return nil })
}

// queryIDs returns the document ids of the rows of a view query.
func queryIDs(ctx context.Context, db *kivik.DB, ddoc, viewName string, params map[string]any) ([]string, error) {
	rs := db.Query(ctx, ddoc, viewName, kivik.Params(params))
	defer rs.Close()
	var ids []string
	for rs.Next() {
		id, err := rs.ID()
		if err != nil {
			return nil, storeError("read view "+viewName, err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, storeError("query view "+viewName, err)
	}
	return ids, nil
}
