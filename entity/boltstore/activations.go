package boltstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
)

// activationStore implements entity.Activations (OpenWhisk's activations
// database) with a group-committing writer. If a commit fails (after
// retries) its records are dropped and logged, and Flush and Close report
// that first failure from then on.
//
// Layout: bucketActivations holds each record's JSON under
// "ns 0 start(8) id" (the [namespace, start] view); bucketActivationID maps
// "ns/id" (the document id) to start(8) and the record's entity path;
// bucketActivationNm indexes "ns 0 entityPath 0 start(8) id" (the
// whisks-filters view).
type activationStore struct {
	db       *bolt.DB
	window   time.Duration
	maxBatch int
	log      *slog.Logger

	closeMu sync.RWMutex // held for reading while sending on queue
	closed  bool
	queue   chan queueItem
	done    chan struct{} // closed when the writer has exited

	mu      sync.RWMutex
	pending map[string]map[string]*pendingRec // ns → id → queued record

	errMu  sync.Mutex
	commit error // first commit failure (sticky)
}

// pendingRec is a queued record: encoded at Put, served from memory until
// committed.
type pendingRec struct {
	ns, id, path string
	start        int64
	body         []byte
}

// queueItem is a record to write or a flush marker.
type queueItem struct {
	rec   *pendingRec
	flush chan error
}

func newActivationStore(db *bolt.DB, cfg Config) *activationStore {
	return &activationStore{
		db:       db,
		window:   cfg.DurabilityWindow,
		maxBatch: cfg.MaxBatch,
		log:      cfg.Logger,
		queue:    make(chan queueItem, 4*cfg.MaxBatch),
		done:     make(chan struct{}),
		pending:  make(map[string]map[string]*pendingRec),
	}
}

func (s *activationStore) Put(ctx context.Context, a *entity.Activation) error {
	if a == nil {
		return entity.Invalidf("no activation record")
	}
	if !entity.ValidName(a.Namespace) || !entity.ValidName(a.ActivationID) {
		return entity.Invalidf("activation record needs a valid namespace and activation id")
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("boltstore: encode activation %s: %w", a.ActivationID, err)
	}
	rec := &pendingRec{ns: a.Namespace, id: a.ActivationID, path: a.EntityPath(), start: a.Start, body: body}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	s.addPending(rec)
	item := queueItem{rec: rec}
	select {
	case s.queue <- item:
		return nil
	default:
	}
	select {
	case s.queue <- item:
		return nil
	case <-ctx.Done():
		s.removePending(rec)
		return fmt.Errorf("boltstore: activation queue full: %w", ctx.Err())
	}
}

func (s *activationStore) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- queueItem{flush: done}:
		s.closeMu.RUnlock()
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting records and waits for the writer to commit what
// is queued.
func (s *activationStore) close() {
	s.closeMu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.closeMu.Unlock()
	<-s.done
}

func (s *activationStore) lastErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.commit
}

func (s *activationStore) addPending(r *pendingRec) {
	s.mu.Lock()
	m := s.pending[r.ns]
	if m == nil {
		m = make(map[string]*pendingRec)
		s.pending[r.ns] = m
	}
	m[r.id] = r
	s.mu.Unlock()
}

func (s *activationStore) removePending(rs ...*pendingRec) {
	s.mu.Lock()
	for _, r := range rs {
		m := s.pending[r.ns]
		if m[r.id] == r {
			delete(m, r.id)
			if len(m) == 0 {
				delete(s.pending, r.ns)
			}
		}
	}
	s.mu.Unlock()
}

// run is the writer: it gathers queued records for up to the durability
// window (less if the batch fills or a flush is waiting) and commits them in
// one transaction. It returns when the queue is closed and drained.
func (s *activationStore) run() {
	defer close(s.done)
	batch := make([]*pendingRec, 0, s.maxBatch)
	var flushes []chan error
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	add := func(it queueItem) {
		if it.rec != nil {
			batch = append(batch, it.rec)
		} else {
			flushes = append(flushes, it.flush)
		}
	}
	for {
		it, ok := <-s.queue
		if !ok {
			return
		}
		add(it)
		open := true
		timer.Reset(s.window)
	gather:
		for len(batch) < s.maxBatch && len(flushes) == 0 {
			select {
			case it, ok := <-s.queue:
				if !ok {
					open = false
					break gather
				}
				add(it)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		// Everything already queued joins this transaction.
	drain:
		for open && len(flushes) == 0 && len(batch) < cap(s.queue) {
			select {
			case it, ok := <-s.queue:
				if !ok {
					open = false
					break drain
				}
				add(it)
			default:
				break drain
			}
		}
		err := s.write(batch)
		s.removePending(batch...)
		for _, f := range flushes {
			f <- err
		}
		clear(batch)
		batch, flushes = batch[:0], nil
		if !open {
			return
		}
	}
}

// write commits a batch, retrying a failed transaction twice. A batch that
// cannot be committed is dropped and the failure is kept for Flush and Close.
func (s *activationStore) write(batch []*pendingRec) error {
	if len(batch) == 0 {
		return s.lastErr()
	}
	var err error
	for try := 0; try < 3; try++ {
		if err = s.db.Update(func(tx *bolt.Tx) error { return commitBatch(tx, batch) }); err == nil {
			return s.lastErr()
		}
	}
	s.log.Error("activation records lost: commit failed", "records", len(batch), "error", err)
	s.errMu.Lock()
	if s.commit == nil {
		s.commit = fmt.Errorf("boltstore: commit activation records: %w", err)
	}
	s.errMu.Unlock()
	return s.lastErr()
}

func mainKey(ns string, start int64, id string) []byte {
	b := make([]byte, 0, len(ns)+9+len(id))
	b = append(b, ns...)
	b = append(b, 0)
	b = putOrdered(b, start)
	return append(b, id...)
}

func nameKey(ns, path string, start int64, id string) []byte {
	b := make([]byte, 0, len(ns)+len(path)+10+len(id))
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, path...)
	b = append(b, 0)
	b = putOrdered(b, start)
	return append(b, id...)
}

func commitBatch(tx *bolt.Tx, batch []*pendingRec) error {
	acts, ids, names := tx.Bucket(bucketActivations), tx.Bucket(bucketActivationID), tx.Bucket(bucketActivationNm)
	acts.FillPercent, names.FillPercent = 0.9, 0.9
	for _, r := range batch {
		idKey := []byte(r.ns + "/" + r.id)
		if old := ids.Get(idKey); len(old) >= 8 { // the same id again: replace
			if err := deleteRecord(acts, names, r.ns, r.id, old); err != nil {
				return err
			}
		}
		if err := acts.Put(mainKey(r.ns, r.start, r.id), r.body); err != nil {
			return err
		}
		idVal := putOrdered(make([]byte, 0, 8+len(r.path)), r.start)
		if err := ids.Put(idKey, append(idVal, r.path...)); err != nil {
			return err
		}
		if err := names.Put(nameKey(r.ns, r.path, r.start, r.id), nil); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecord removes the main and name entries of ns/id given its id
// index value (start(8) entityPath).
func deleteRecord(acts, names *bolt.Bucket, ns, id string, idVal []byte) error {
	start, path := getOrdered(idVal), string(idVal[8:])
	if err := acts.Delete(mainKey(ns, start, id)); err != nil {
		return err
	}
	return names.Delete(nameKey(ns, path, start, id))
}

func (s *activationStore) Get(ctx context.Context, ns, id string) (*entity.Activation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	rec := s.pending[ns][id]
	s.mu.RUnlock()
	if rec != nil {
		return decodeActivation(rec.body)
	}
	var a *entity.Activation
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketActivationID).Get([]byte(ns + "/" + id))
		if len(v) < 8 {
			return entity.ErrNotFound
		}
		body := tx.Bucket(bucketActivations).Get(mainKey(ns, getOrdered(v), id))
		if body == nil {
			return entity.ErrNotFound
		}
		var err error
		a, err = decodeActivation(body)
		return err
	})
	return a, err
}

func decodeActivation(b []byte) (*entity.Activation, error) {
	a := new(entity.Activation)
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("boltstore: decode activation: %w", err)
	}
	return a, nil
}

func (s *activationStore) List(ctx context.Context, ns string, q entity.ActivationQuery) ([]*entity.Activation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*entity.Activation
	skip := q.Skip
	err := s.scan(ns, q, func(h hit) (bool, error) {
		if skip > 0 {
			skip--
			return true, nil
		}
		a, err := decodeActivation(h.body())
		if err != nil {
			return false, err
		}
		out = append(out, a)
		return q.Limit <= 0 || len(out) < q.Limit, nil
	})
	return out, err
}

func (s *activationStore) Count(ctx context.Context, ns string, q entity.ActivationQuery) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.scan(ns, q, func(hit) (bool, error) { n++; return true, nil })
	return n, err
}

// inRange reports whether start is within the query's [Since, Upto].
func inRange(start int64, q entity.ActivationQuery) bool {
	return (q.Since <= 0 || start >= q.Since) && (q.Upto <= 0 || start <= q.Upto)
}

// pendingFor returns the queued records of ns selected by q, newest first.
func (s *activationStore) pendingFor(ns string, q entity.ActivationQuery) []*pendingRec {
	s.mu.RLock()
	var out []*pendingRec
	for _, r := range s.pending[ns] {
		if inRange(r.start, q) && (q.Name == "" || r.path == q.Name) {
			out = append(out, r)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *pendingRec) int { return newerFirst(a.start, a.id, b.start, b.id) })
	return out
}

// newerFirst orders records by start, then id, both descending.
func newerFirst(aStart int64, aID string, bStart int64, bID string) int {
	if c := cmp.Compare(bStart, aStart); c != 0 {
		return c
	}
	return cmp.Compare(bID, aID)
}

// hit is a record found by scan: queued (rec) or committed (key).
type hit struct {
	rec    *pendingRec
	acts   *bolt.Bucket
	ns     string
	byName bool
	start  int64
	id     []byte
	key    []byte
}

// body is the record's JSON, valid during the scan.
func (h hit) body() []byte {
	switch {
	case h.rec != nil:
		return h.rec.body
	case h.byName:
		return h.acts.Get(mainKey(h.ns, h.start, string(h.id)))
	}
	return h.acts.Get(h.key)
}

// pendingFirst reports whether queued record r comes before the committed
// record (start, id) in newest-first order.
func pendingFirst(r *pendingRec, start int64, id []byte) bool {
	if r.start != start {
		return r.start > start
	}
	return r.id > string(id)
}

// scan calls fn with every record of ns selected by q (not
// paged), newest first, merging queued and committed records, until fn
// returns false or an error.
func (s *activationStore) scan(ns string, q entity.ActivationQuery, fn func(h hit) (bool, error)) error {
	// Snapshot the queue before opening the transaction: a record leaves
	// the queue only after it is committed, so it is in one or the other.
	pend := s.pendingFor(ns, q)
	queued := make(map[string]bool, len(pend))
	for _, r := range pend {
		queued[r.id] = true
	}
	return s.db.View(func(tx *bolt.Tx) error {
		acts := tx.Bucket(bucketActivations)
		var prefix []byte
		var c *bolt.Cursor
		if q.Name == "" {
			prefix = append([]byte(ns), 0)
			c = acts.Cursor()
		} else {
			prefix = append(join(ns, q.Name), 0)
			c = tx.Bucket(bucketActivationNm).Cursor()
		}
		var k []byte
		if q.Upto > 0 && q.Upto < math.MaxInt64 {
			k, _ = c.Seek(putOrdered(append([]byte(nil), prefix...), q.Upto+1))
		} else {
			k, _ = c.Seek(prefixEnd(prefix))
		}
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		// next returns the next committed record in range, or ok false.
		next := func() (start int64, id, key []byte, ok bool) {
			for k != nil && len(k) > len(prefix)+8 && string(k[:len(prefix)]) == string(prefix) {
				start = getOrdered(k[len(prefix):])
				if q.Since > 0 && start < q.Since {
					return 0, nil, nil, false
				}
				key, id = k, k[len(prefix)+8:]
				k, _ = c.Prev()
				if queued[string(id)] {
					continue
				}
				return start, id, key, true
			}
			return 0, nil, nil, false
		}
		dStart, dID, dKey, dOK := next()
		for dOK || len(pend) > 0 {
			var h hit
			if len(pend) > 0 && (!dOK || pendingFirst(pend[0], dStart, dID)) {
				h.rec = pend[0]
				pend = pend[1:]
			} else {
				h = hit{acts: acts, ns: ns, byName: q.Name != "", start: dStart, id: dID, key: dKey}
				dStart, dID, dKey, dOK = next()
			}
			more, err := fn(h)
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}
