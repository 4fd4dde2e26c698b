package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
)

// benchRecord is an activation record like a noop nodejs action's.
func benchRecord(ns string, start int64) *entity.Activation {
	return &entity.Activation{
		Namespace: ns, Name: "noop", Subject: ns, ActivationID: entity.NewActivationID(),
		Start: start, End: start + 1,
		Response: entity.Response{StatusCode: entity.StatusSuccess, Result: json.RawMessage(`{}`)},
		Logs:     []string{}, Version: entity.SemVer{Patch: 1},
		Annotations: entity.Params{
			{Key: entity.AnnotationPath, Value: json.RawMessage(`"` + ns + `/noop"`)},
			{Key: entity.AnnotationKind, Value: json.RawMessage(`"nodejs:20"`)},
			{Key: "waitTime", Value: json.RawMessage(`0`)},
		},
	}
}

// storeWriteRate puts n records into a fresh boltstore (the standalone
// server's store, with its default group commit) from conc writers and
// flushes: the rate is of durable (fsynced) records. Each sample is one
// Put's latency; the wall time includes the final Flush.
func storeWriteRate(ctx context.Context, dir string, n, conc int) (loadResult, error) {
	db, err := boltstore.Open(ctx, dir, boltstore.Config{})
	if err != nil {
		return loadResult{}, err
	}
	defer db.Close()
	acts := db.Activations()
	base := time.Now().UnixMilli()
	var seq atomic.Int64
	t0 := time.Now()
	res := runLoad(ctx, conc, 0, n, func(ctx context.Context, _, _ int) error {
		return acts.Put(ctx, benchRecord("guest", base+seq.Add(1)))
	})
	if err := acts.Flush(ctx); err != nil {
		return res, fmt.Errorf("flush: %w", err)
	}
	res.wall = time.Since(t0)
	c, err := acts.Count(ctx, "guest", entity.ActivationQuery{})
	if err != nil {
		return res, err
	}
	if c != len(res.lat) {
		return res, fmt.Errorf("store holds %d records after %d successful puts", c, len(res.lat))
	}
	return res, nil
}

// boltFloor writes n records of the same size straight into bbolt in
// transactions of boltstore's batch size (one key per record, fsync per
// commit): the floor of durable record writes on this disk.
func boltFloor(dir string, n int) (loadResult, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return loadResult{}, err
	}
	db, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return loadResult{}, err
	}
	defer db.Close()
	body, err := json.Marshal(benchRecord("guest", time.Now().UnixMilli()))
	if err != nil {
		return loadResult{}, err
	}
	batch := boltstore.DefaultMaxBatch
	var res loadResult
	t0 := time.Now()
	for i := 0; i < n; i += batch {
		s := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("a"))
			if err != nil {
				return err
			}
			b.FillPercent = 0.9
			for j := i; j < min(i+batch, n); j++ {
				if err := b.Put(fmt.Appendf(nil, "guest\x00%016x%032x", j, j), body); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.lat = append(res.lat, time.Since(s))
	}
	res.wall = time.Since(t0)
	res.count = n
	return res, nil
}
