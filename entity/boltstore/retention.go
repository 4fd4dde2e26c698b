package boltstore

import (
	"bytes"
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// purgeChunk is the most records one purge transaction deletes.
const purgeChunk = 5000

// retentionLoop purges activation records every Retention.Interval until
// ctx ends.
func (db *DB) retentionLoop(ctx context.Context) {
	t := time.NewTicker(db.cfg.Retention.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := db.Purge(ctx)
		switch {
		case err != nil:
			db.log.Error("activation retention purge failed", "error", err)
		case n > 0:
			db.log.Info("activation retention purge", "deleted", n)
		}
	}
}

// Purge deletes the committed activation records that the retention policy
// (Config.Retention) no longer keeps: those started before Now - MaxAge, and
// in each namespace all but the MaxCount newest. It returns how many it
// deleted. The background loop calls it every Retention.Interval.
func (db *DB) Purge(ctx context.Context) (int, error) {
	r := db.cfg.Retention
	if r.MaxAge <= 0 && r.MaxCount <= 0 {
		return 0, nil
	}
	var cutoff int64 // records with start < cutoff go
	if r.MaxAge > 0 {
		cutoff = db.cfg.Now().Add(-r.MaxAge).UnixMilli()
	}
	var victims [][]byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		victims = purgeVictims(tx.Bucket(bucketActivations).Cursor(), r.MaxAge > 0, cutoff, r.MaxCount)
		return nil
	})
	if err != nil {
		return 0, err
	}
	deleted := 0
	for len(victims) > 0 {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		chunk := victims[:min(purgeChunk, len(victims))]
		victims = victims[len(chunk):]
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			n, err := deleteByMainKeys(tx, chunk)
			deleted += n
			return err
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// purgeVictims walks every namespace of the activations bucket and returns
// (copies of) the main keys to delete.
func purgeVictims(c *bolt.Cursor, byAge bool, cutoff int64, maxCount int) [][]byte {
	var victims [][]byte
	k, _ := c.First()
	for k != nil {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			k, _ = c.Next()
			continue
		}
		prefix := bytes.Clone(k[:i+1])
		inNS := func(k []byte) bool { return k != nil && len(k) >= len(prefix)+8 && bytes.HasPrefix(k, prefix) }
		// Oldest first: everything started before the cutoff.
		var oldest []byte // the newest key taken by age
		if byAge {
			for ; inNS(k) && getOrdered(k[len(prefix):]) < cutoff; k, _ = c.Next() {
				oldest = bytes.Clone(k)
				victims = append(victims, oldest)
			}
		}
		// Newest first: keep maxCount, take the rest not already taken.
		if maxCount > 0 {
			end := prefixEnd(prefix)
			var kk []byte
			if end == nil {
				kk, _ = c.Last()
			} else if kk, _ = c.Seek(end); kk == nil {
				kk, _ = c.Last()
			} else {
				kk, _ = c.Prev()
			}
			for n := 0; inNS(kk) && n < maxCount; n++ {
				kk, _ = c.Prev()
			}
			for ; inNS(kk) && (oldest == nil || bytes.Compare(kk, oldest) > 0); kk, _ = c.Prev() {
				victims = append(victims, bytes.Clone(kk))
			}
		}
		// On to the next namespace.
		end := prefixEnd(prefix)
		if end == nil {
			break
		}
		k, _ = c.Seek(end)
	}
	return victims
}

// deleteByMainKeys deletes the records with the given main keys and their
// index entries.
func deleteByMainKeys(tx *bolt.Tx, keys [][]byte) (int, error) {
	acts, ids, names := tx.Bucket(bucketActivations), tx.Bucket(bucketActivationID), tx.Bucket(bucketActivationNm)
	n := 0
	for _, k := range keys {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) < i+1+8 || acts.Get(k) == nil {
			continue
		}
		ns, start, id := string(k[:i]), getOrdered(k[i+1:]), string(k[i+9:])
		idKey := []byte(ns + "/" + id)
		if v := ids.Get(idKey); len(v) >= 8 && getOrdered(v) == start {
			if err := names.Delete(nameKey(ns, string(v[8:]), start, id)); err != nil {
				return n, err
			}
			if err := ids.Delete(idKey); err != nil {
				return n, err
			}
		}
		if err := acts.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
