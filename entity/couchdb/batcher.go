package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
)

// drainFactor bounds how many records one round of the writer takes off
// the queue, in batches: a backlog is written as several batches at once.
const drainFactor = 8

// retryBackoff is the pause before the n-th retry of a batch.
func retryBackoff(attempt int) time.Duration { return time.Duration(attempt) * 50 * time.Millisecond }

// splitBatches cuts records into consecutive batches of at most max.
func splitBatches[T any](records []T, max int) [][]T {
	if max <= 0 {
		max = 1
	}
	var out [][]T
	for len(records) > 0 {
		n := min(max, len(records))
		out = append(out, records[:n:n])
		records = records[n:]
	}
	return out
}

// run is the writer: it waits for a record, gathers what else arrives
// within the batch window (or until Flush or Close kicks it), writes it
// all as batches of MaxBatch in parallel, and then marks it written.
func (s *activationStore) run(ctx context.Context) {
	defer close(s.done)
	limit := s.cfg.MaxBatch * drainFactor
	buf := make([]queuedRecord, 0, s.cfg.MaxBatch)
	for {
		first, ok := <-s.queue
		if !ok {
			return
		}
		buf = append(buf[:0], first)
		open := s.gather(&buf, limit)
		s.writeAll(ctx, buf)
		if !open {
			// The queue is closed: whatever is left was gathered.
			return
		}
	}
}

// gather appends records to buf until the batch window ends, a kick
// arrives, or buf holds limit records. It reports whether the queue is
// still open.
func (s *activationStore) gather(buf *[]queuedRecord, limit int) bool {
	timer := time.NewTimer(s.cfg.BatchWindow)
	defer timer.Stop()
	for len(*buf) < limit {
		select {
		case r, ok := <-s.queue:
			if !ok {
				return false
			}
			*buf = append(*buf, r)
		case <-s.kick:
			return s.drainNow(buf, limit)
		case <-timer.C:
			return s.drainNow(buf, limit)
		}
	}
	return true
}

// drainNow appends what is already queued, without waiting.
func (s *activationStore) drainNow(buf *[]queuedRecord, limit int) bool {
	for len(*buf) < limit {
		select {
		case r, ok := <-s.queue:
			if !ok {
				return false
			}
			*buf = append(*buf, r)
		default:
			return true
		}
	}
	return true
}

// writeAll writes the records as parallel batches, then drops them from
// memory and advances the written mark. Records of a batch that fails for
// good are logged and lost.
func (s *activationStore) writeAll(ctx context.Context, recs []queuedRecord) {
	batches := splitBatches(recs, s.cfg.MaxBatch)
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.writeBatch(ctx, b)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	last := recs[len(recs)-1].seq

	s.mu.Lock()
	for _, r := range recs {
		if s.pending[r.id].seq == r.seq {
			delete(s.pending, r.id)
		}
	}
	s.written = last
	if err != nil {
		s.failSeq, s.failErr = last, err
	}
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if err != nil {
		s.log.Error("activation records lost", "records", len(recs), "err", err)
	}
}

// writeBatch writes one batch with _bulk_docs, retrying transient
// failures (of the request or of single documents) up to cfg.Retries
// tries. A document that already exists (a conflict) was written by an
// earlier try whose answer was lost: it counts as written.
func (s *activationStore) writeBatch(ctx context.Context, batch []queuedRecord) error {
	todo := batch
	var permanent []error
	var transient error
	for attempt := 1; attempt <= s.cfg.Retries && len(todo) > 0; attempt++ {
		if attempt > 1 {
			s.log.Warn("retrying activation batch", "attempt", attempt, "records", len(todo), "err", transient)
			select {
			case <-time.After(retryBackoff(attempt - 1)):
			case <-ctx.Done():
				return errors.Join(append(permanent, fmt.Errorf("couchdb: write activations: %w", ctx.Err()))...)
			}
		}
		var perm error
		todo, perm, transient = s.bulkWrite(ctx, todo)
		if perm != nil {
			permanent = append(permanent, perm)
		}
	}
	if len(todo) > 0 {
		permanent = append(permanent, transient)
	}
	return errors.Join(permanent...)
}

// bulkWrite sends one _bulk_docs request. It returns the records worth
// sending again with the transient error that failed them (all of them
// after a transient request failure), and the error of those that failed
// for good.
func (s *activationStore) bulkWrite(ctx context.Context, batch []queuedRecord) (retry []queuedRecord, permanent, transient error) {
	docs := make([]any, len(batch))
	for i, r := range batch {
		docs[i] = r.doc
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	res, err := s.db.BulkDocs(rctx, docs)
	if err != nil {
		if ctx.Err() == nil && transientStatus(kivik.HTTPStatus(err)) {
			return batch, nil, storeError("write activations", err)
		}
		return nil, storeError("write activations", err), nil
	}
	byID := make(map[string]error, len(res))
	for _, r := range res {
		byID[r.ID] = r.Error
	}
	var perm, trans []error
	for _, r := range batch {
		e, ok := byID[r.id]
		switch {
		case !ok:
			trans = append(trans, fmt.Errorf("couchdb: write activation %s: no result", r.id))
			retry = append(retry, r)
		case e == nil, isStatus(e, http.StatusConflict):
		case transientStatus(kivik.HTTPStatus(e)):
			trans = append(trans, fmt.Errorf("couchdb: write activation %s: %w", r.id, e))
			retry = append(retry, r)
		default:
			perm = append(perm, fmt.Errorf("couchdb: write activation %s: %w", r.id, e))
		}
	}
	return retry, errors.Join(perm...), errors.Join(trans...)
}
