package couchdb

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/gowhisk/gowhisk/entity"
)

// errClosed is returned by Put after Close.
var errClosed = errors.New("couchdb: activation store is closed")

// activationStore is the activations database. Put queues records for a
// background writer (group commit with _bulk_docs); records stay in memory,
// visible to Get and List, until they are written.
type activationStore struct {
	db  *kivik.DB
	log *slog.Logger
	cfg Config

	queue chan queuedRecord
	kick  chan struct{} // asks the writer to stop waiting for more records
	done  chan struct{} // closed when the writer has exited
	stop  context.CancelFunc

	// putSem (capacity 1) serializes Put so that sequence order is queue
	// order; a channel, so that a Put waiting for it honours its context.
	putSem chan struct{}

	mu      sync.Mutex
	pending map[string]queuedRecord // by document id, until written
	queued  int64                   // sequence number of the last queued record
	written int64                   // every record up to this one is written (or lost)
	failSeq int64                   // last sequence number of a batch that was lost
	failErr error
	notify  chan struct{} // closed and replaced whenever written advances
	closed  bool
}

// queuedRecord is an activation record waiting to be written.
type queuedRecord struct {
	seq   int64
	id    string // document id ns/activationId
	ns    string
	path  string // entity path the filters view keys it by
	start int64
	doc   json.RawMessage // the stored form
}

var _ entity.Activations = (*activationStore)(nil)

func newActivationStore(db *kivik.DB, cfg Config) *activationStore {
	ctx, cancel := context.WithCancel(context.Background())
	s := &activationStore{
		db: db, log: cfg.Logger, cfg: cfg,
		queue:   make(chan queuedRecord, cfg.QueueSize),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stop:    cancel,
		putSem:  make(chan struct{}, 1),
		pending: map[string]queuedRecord{},
		notify:  make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// marshalActivation encodes a record in its stored form: the record plus
// _id "ns/activationId" and entityType "activation".
func marshalActivation(a *entity.Activation) ([]byte, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(body) + 96)
	buf.WriteString(`{"_id":`)
	buf.Write(entity.AppendJSONString(nil, a.DocID()))
	buf.WriteString(`,"entityType":"activation"`)
	if len(body) > 2 {
		buf.WriteByte(',')
		buf.Write(body[1:])
	} else {
		buf.WriteByte('}')
	}
	return buf.Bytes(), nil
}

func decodeActivation(raw []byte) (*entity.Activation, error) {
	var a entity.Activation
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("couchdb: decode activation: %w", err)
	}
	return &a, nil
}

// Put implements entity.Activations.
func (s *activationStore) Put(ctx context.Context, a *entity.Activation) error {
	if a == nil || a.Namespace == "" || a.ActivationID == "" {
		return entity.Invalidf("activation record without namespace or activation id")
	}
	if reservedID(a.DocID()) {
		return entity.Invalidf("illegal activation document id %q", a.DocID())
	}
	doc, err := marshalActivation(a)
	if err != nil {
		return fmt.Errorf("couchdb: encode activation %s: %w", a.ActivationID, err)
	}
	r := queuedRecord{id: a.DocID(), ns: a.Namespace, path: a.EntityPath(), start: a.Start, doc: doc}

	select {
	case s.putSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("couchdb: queue activation %s: %w", a.ActivationID, ctx.Err())
	}
	defer func() { <-s.putSem }()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	r.seq = s.queued + 1
	s.pending[r.id] = r
	s.mu.Unlock()
	select {
	case s.queue <- r:
	case <-ctx.Done():
		s.mu.Lock()
		if s.pending[r.id].seq == r.seq {
			delete(s.pending, r.id)
		}
		s.mu.Unlock()
		return fmt.Errorf("couchdb: queue activation %s: %w", a.ActivationID, ctx.Err())
	}
	s.mu.Lock()
	s.queued = r.seq
	s.mu.Unlock()
	return nil
}

// Flush implements entity.Activations. It reports an error if records
// queued before the call could not be written.
func (s *activationStore) Flush(ctx context.Context) error {
	s.mu.Lock()
	target, from := s.queued, s.written
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	for {
		s.mu.Lock()
		if s.written >= target {
			lost, err := s.failSeq > from, s.failErr
			s.mu.Unlock()
			if lost {
				return fmt.Errorf("couchdb: activation records were lost: %w", err)
			}
			return nil
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("couchdb: flush activations: %w", ctx.Err())
		}
	}
}

// Get implements entity.Activations.
func (s *activationStore) Get(ctx context.Context, ns, id string) (*entity.Activation, error) {
	docID := ns + "/" + id
	s.mu.Lock()
	r, ok := s.pending[docID]
	s.mu.Unlock()
	if ok {
		return decodeActivation(r.doc)
	}
	raw, _, err := readDoc(ctx, s.db, docID)
	if err != nil {
		return nil, err
	}
	return decodeActivation(raw)
}

// matches reports whether a queued record is selected by ns and q, as the
// view query of activationView and viewRange selects stored ones.
func (r queuedRecord) matches(ns string, q entity.ActivationQuery) bool {
	return r.ns == ns && (q.Name == "" || r.path == q.Name) &&
		r.start >= q.Since && (q.Upto <= 0 || r.start <= q.Upto)
}

// pendingMatching returns the queued records that ns and q select.
func (s *activationStore) pendingMatching(ns string, q entity.ActivationQuery) []queuedRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []queuedRecord
	for _, r := range s.pending {
		if r.matches(ns, q) {
			out = append(out, r)
		}
	}
	return out
}

// listed is one record of a list: its document id and start, for merging.
type listed struct {
	id    string
	start int64
	a     *entity.Activation
}

// mergeListed merges stored and pending records, dropping stored ones that
// are also pending (written since the pending ones were taken), orders
// them newest start first (ties by document id, descending, as the view
// orders equal keys) and pages the result.
func mergeListed(stored, pending []listed, skip, limit int) []listed {
	seen := make(map[string]bool, len(pending))
	all := make([]listed, 0, len(stored)+len(pending))
	for _, p := range pending {
		seen[p.id] = true
		all = append(all, p)
	}
	for _, s := range stored {
		if !seen[s.id] {
			all = append(all, s)
		}
	}
	slices.SortStableFunc(all, func(a, b listed) int {
		if c := cmp.Compare(b.start, a.start); c != 0 {
			return c
		}
		return cmp.Compare(b.id, a.id)
	})
	return page(all, skip, limit)
}

// page applies skip and limit (0 = no limit) to a slice.
func page[T any](all []T, skip, limit int) []T {
	if skip > 0 {
		if skip >= len(all) {
			return nil
		}
		all = all[skip:]
	}
	if limit > 0 && limit < len(all) {
		all = all[:limit]
	}
	return all
}

// List implements entity.Activations. Records not written yet are merged
// in from memory.
func (s *activationStore) List(ctx context.Context, ns string, q entity.ActivationQuery) ([]*entity.Activation, error) {
	pend := s.pendingMatching(ns, q)
	ddoc, prefix := activationView(ns, q)
	rq := rangeQuery{prefix: prefix, since: q.Since, upto: q.Upto, skip: q.Skip, limit: q.Limit, docs: true}
	if len(pend) > 0 {
		// Page after merging: fetch enough stored rows to fill the page
		// even if every pending record turns out to be stored already.
		rq.skip = 0
		if q.Limit > 0 {
			rq.limit = max(q.Skip, 0) + q.Limit + len(pend)
		}
	}
	rows, err := queryDocs(ctx, s.db, ddoc, viewActivations, rq.params())
	if err != nil {
		return nil, err
	}
	stored := make([]listed, 0, len(rows))
	for _, raw := range rows {
		a, err := decodeActivation(raw)
		if err != nil {
			return nil, err
		}
		stored = append(stored, listed{id: a.DocID(), start: a.Start, a: a})
	}
	if len(pend) == 0 {
		out := make([]*entity.Activation, len(stored))
		for i, l := range stored {
			out[i] = l.a
		}
		return out, nil
	}
	pl := make([]listed, len(pend))
	for i, r := range pend {
		a, err := decodeActivation(r.doc)
		if err != nil {
			return nil, err
		}
		pl[i] = listed{id: r.id, start: r.start, a: a}
	}
	merged := mergeListed(stored, pl, q.Skip, q.Limit)
	out := make([]*entity.Activation, len(merged))
	for i, l := range merged {
		out[i] = l.a
	}
	return out, nil
}

// Count implements entity.Activations. If matching records are still in
// memory it first waits for them to be written, so that the count the
// view gives includes each of them exactly once.
func (s *activationStore) Count(ctx context.Context, ns string, q entity.ActivationQuery) (int, error) {
	if len(s.pendingMatching(ns, q)) > 0 {
		if err := s.Flush(ctx); err != nil {
			return 0, err
		}
	}
	ddoc, prefix := activationView(ns, q)
	rq := rangeQuery{prefix: prefix, since: q.Since, upto: q.Upto, reduce: true}
	return queryCount(ctx, s.db, ddoc, viewActivations, rq.params())
}

// close stops accepting records, waits (at most until ctx ends) for the
// writer to write the queued ones, and stops it.
func (s *activationStore) close(ctx context.Context) error {
	s.putSem <- struct{}{}
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		close(s.queue)
	}
	<-s.putSem
	select {
	case s.kick <- struct{}{}:
	default:
	}
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = fmt.Errorf("couchdb: activation writer did not finish: %w", ctx.Err())
	}
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr != nil {
		err = errors.Join(err, fmt.Errorf("couchdb: activation records were lost: %w", s.failErr))
	}
	return err
}

// requestTimeout bounds one _bulk_docs request of the writer.
const requestTimeout = 30 * time.Second
