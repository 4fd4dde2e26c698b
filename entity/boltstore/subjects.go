package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
)

// subjectStore implements entity.SubjectAdmin (OpenWhisk's subjects
// database). bucketSubjects holds each subject document under its name;
// bucketAuth maps "uuid 0 key" to "subject 0 namespace" (the identities
// view by key, for O(1) authentication); bucketNamespaces indexes
// "namespace 0 subject" (the identities view by namespace); bucketLimits
// holds each namespace's limits document.
type subjectStore struct {
	db *bolt.DB
}

// storedSubject is a subject document as stored: CouchDB's "_id" and "_rev"
// plus the subject fields.
type storedSubject struct {
	ID  string `json:"_id"`
	Rev string `json:"_rev"`
	entity.Subject
}

func decodeSubject(b []byte) (entity.Subject, error) {
	var s storedSubject
	if err := json.Unmarshal(b, &s); err != nil {
		return entity.Subject{}, fmt.Errorf("boltstore: decode subject: %w", err)
	}
	s.Subject.Rev = s.Rev
	return s.Subject, nil
}

func authKey(uuid, key string) []byte { return join(uuid, key) }

// validSubject checks what the key layout needs: names without 0 bytes and
// credentials present.
func validSubject(s entity.Subject) error {
	if s.Subject == "" || strings.IndexByte(s.Subject, 0) >= 0 {
		return entity.Invalidf("subject name is empty or malformed")
	}
	seen := make(map[string]bool, len(s.Namespaces))
	for _, ns := range s.Namespaces {
		if !entity.ValidName(ns.Name) {
			return entity.Invalidf("namespace name %q is not valid", ns.Name)
		}
		if ns.UUID == "" || ns.Key == "" || strings.IndexByte(ns.UUID, 0) >= 0 || strings.IndexByte(ns.Key, 0) >= 0 {
			return entity.Invalidf("namespace %q needs a uuid and a key", ns.Name)
		}
		if seen[ns.UUID+":"+ns.Key] {
			return entity.Errorf(entity.ErrExists, "namespace %q reuses the credentials of another namespace", ns.Name)
		}
		seen[ns.UUID+":"+ns.Key] = true
	}
	return nil
}

func (s *subjectStore) Authenticate(ctx context.Context, uuid, key string) (entity.Identity, error) {
	if err := ctx.Err(); err != nil {
		return entity.Identity{}, err
	}
	var id entity.Identity
	err := s.db.View(func(tx *bolt.Tx) error {
		owner := tx.Bucket(bucketAuth).Get(authKey(uuid, key))
		subject, ns, ok := bytes.Cut(owner, []byte{0})
		if !ok {
			return entity.ErrUnauthenticated
		}
		raw := tx.Bucket(bucketSubjects).Get(subject)
		if raw == nil {
			return entity.ErrUnauthenticated
		}
		sub, err := decodeSubject(raw)
		if err != nil {
			return err
		}
		if sub.Blocked {
			return entity.ErrUnauthenticated
		}
		for _, nk := range sub.Namespaces {
			if nk.Name == string(ns) && nk.UUID == uuid && nk.Key == key {
				limits, err := getLimits(tx, nk.Name)
				id = entity.NewIdentity(sub.Subject, nk, limits)
				return err
			}
		}
		return entity.ErrUnauthenticated
	})
	return id, err
}

func (s *subjectStore) IdentityByNamespace(ctx context.Context, ns string) (entity.Identity, error) {
	if err := ctx.Err(); err != nil {
		return entity.Identity{}, err
	}
	var id entity.Identity
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(ns), 0)
		subjects := tx.Bucket(bucketSubjects)
		c := tx.Bucket(bucketNamespaces).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			raw := subjects.Get(k[len(prefix):])
			if raw == nil {
				continue
			}
			sub, err := decodeSubject(raw)
			if err != nil {
				return err
			}
			if sub.Blocked {
				continue
			}
			for _, nk := range sub.Namespaces {
				if nk.Name == ns {
					limits, err := getLimits(tx, ns)
					id = entity.NewIdentity(sub.Subject, nk, limits)
					return err
				}
			}
		}
		return entity.ErrNotFound
	})
	return id, err
}

func (s *subjectStore) GetSubject(ctx context.Context, subject string) (entity.Subject, error) {
	if err := ctx.Err(); err != nil {
		return entity.Subject{}, err
	}
	var out entity.Subject
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSubjects).Get([]byte(subject))
		if raw == nil {
			return entity.ErrNotFound
		}
		var err error
		out, err = decodeSubject(raw)
		return err
	})
	return out, err
}

func (s *subjectStore) PutSubject(ctx context.Context, sub entity.Subject) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := validSubject(sub); err != nil {
		return "", err
	}
	rev, ok := nextRev(sub.Rev)
	if !ok {
		return "", entity.ErrConflict
	}
	body, err := json.Marshal(storedSubject{ID: sub.Subject, Rev: rev, Subject: sub})
	if err != nil {
		return "", fmt.Errorf("boltstore: encode subject: %w", err)
	}
	name := []byte(sub.Subject)
	err = s.db.Update(func(tx *bolt.Tx) error {
		subjects, auth, nsIdx := tx.Bucket(bucketSubjects), tx.Bucket(bucketAuth), tx.Bucket(bucketNamespaces)
		raw := subjects.Get(name)
		switch {
		case sub.Rev == "" && raw != nil:
			return entity.ErrExists
		case sub.Rev != "" && raw == nil:
			return entity.ErrConflict
		}
		for _, nk := range sub.Namespaces {
			owner := auth.Get(authKey(nk.UUID, nk.Key))
			if owner != nil && !bytes.HasPrefix(owner, append(bytes.Clone(name), 0)) {
				return entity.Errorf(entity.ErrExists, "the credentials of namespace %q belong to another subject", nk.Name)
			}
		}
		if raw != nil {
			old, err := decodeSubject(raw)
			if err != nil {
				return err
			}
			if old.Rev != sub.Rev {
				return entity.ErrConflict
			}
			if err := unindexSubject(auth, nsIdx, old); err != nil {
				return err
			}
		}
		for _, nk := range sub.Namespaces {
			if err := auth.Put(authKey(nk.UUID, nk.Key), join(sub.Subject, nk.Name)); err != nil {
				return err
			}
			if err := nsIdx.Put(join(nk.Name, sub.Subject), nil); err != nil {
				return err
			}
		}
		return subjects.Put(name, body)
	})
	if err != nil {
		return "", err
	}
	return rev, nil
}

func unindexSubject(auth, nsIdx *bolt.Bucket, sub entity.Subject) error {
	for _, nk := range sub.Namespaces {
		if err := auth.Delete(authKey(nk.UUID, nk.Key)); err != nil {
			return err
		}
		if err := nsIdx.Delete(join(nk.Name, sub.Subject)); err != nil {
			return err
		}
	}
	return nil
}

func (s *subjectStore) DeleteSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		subjects := tx.Bucket(bucketSubjects)
		raw := subjects.Get([]byte(subject))
		if raw == nil {
			return entity.ErrNotFound
		}
		old, err := decodeSubject(raw)
		if err != nil {
			return err
		}
		if err := unindexSubject(tx.Bucket(bucketAuth), tx.Bucket(bucketNamespaces), old); err != nil {
			return err
		}
		return subjects.Delete([]byte(subject))
	})
}

func (s *subjectStore) ListSubjects(ctx context.Context) ([]entity.Subject, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []entity.Subject
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubjects).ForEach(func(_, v []byte) error {
			sub, err := decodeSubject(v)
			if err != nil {
				return err
			}
			out = append(out, sub)
			return nil
		})
	})
	return out, err
}

func getLimits(tx *bolt.Tx, ns string) (entity.UserLimits, error) {
	var l entity.UserLimits
	raw := tx.Bucket(bucketLimits).Get([]byte(ns))
	if raw == nil {
		return l, nil
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, fmt.Errorf("boltstore: decode limits of %s: %w", ns, err)
	}
	return l, nil
}

func (s *subjectStore) GetLimits(ctx context.Context, ns string) (entity.UserLimits, error) {
	if err := ctx.Err(); err != nil {
		return entity.UserLimits{}, err
	}
	var l entity.UserLimits
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		l, err = getLimits(tx, ns)
		return err
	})
	return l, err
}

func (s *subjectStore) PutLimits(ctx context.Context, ns string, l entity.UserLimits) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !entity.ValidName(ns) {
		return entity.Invalidf("namespace name %q is not valid", ns)
	}
	body, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("boltstore: encode limits: %w", err)
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLimits).Put([]byte(ns), body) })
}

func (s *subjectStore) DeleteLimits(ctx context.Context, ns string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLimits)
		if b.Get([]byte(ns)) == nil {
			return entity.ErrNotFound
		}
		return b.Delete([]byte(ns))
	})
}
