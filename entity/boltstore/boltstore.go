// Package boltstore is the embedded entity store of a standalone gowhisk: one
// bbolt file holding what OpenWhisk keeps in its three CouchDB databases
// (whisks, activations, subjects), with the same document shapes, revision
// and conflict semantics, and list orders.
//
// Activation records are written by a batching writer (group commit): Put
// queues a record and returns; one goroutine commits everything queued in a
// single transaction within the durability window. Queued records are
// served from memory until they are committed.
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/gowhisk/gowhisk/entity"
)

// FileName is the name of the bolt file inside the data directory.
const FileName = "gowhisk.db"

// Defaults applied to zero Config fields.
const (
	DefaultDurabilityWindow  = 5 * time.Millisecond
	DefaultMaxBatch          = 1000
	DefaultOpenTimeout       = time.Second
	DefaultRetentionInterval = time.Minute
)

// Config configures a store. Zero fields take the defaults above.
type Config struct {
	// DurabilityWindow bounds how long a queued activation record waits
	// before the writer commits it.
	DurabilityWindow time.Duration
	// MaxBatch is the most records the writer commits in one transaction;
	// the writer commits early when a batch reaches it.
	MaxBatch int
	// Retention purges old activation records in the background.
	Retention Retention
	// OpenTimeout is how long Open waits for the file lock.
	OpenTimeout time.Duration
	// Logger receives background errors (nil: discard).
	Logger *slog.Logger
	// Now is the clock retention measures ages against (nil: time.Now).
	Now func() time.Time
}

// Retention selects which activation records the background purge deletes.
// Zero values keep records forever.
type Retention struct {
	// MaxAge deletes records that started longer ago than this.
	MaxAge time.Duration
	// MaxCount keeps at most this many newest records per namespace.
	MaxCount int
	// Interval is the time between purges (default 1 minute).
	Interval time.Duration
}

// ErrClosed is returned by activation Put and Flush on a closed store. It
// wraps entity.ErrUnavailable.
var ErrClosed = entity.Errorf(entity.ErrUnavailable, "boltstore: store is closed")

// Bucket names.
var (
	bucketEntities     = []byte("entities")      // doc id → stored JSON
	bucketEntityMeta   = []byte("entity_meta")   // doc id → updated(8) kindLen(1) kind rev
	bucketEntityIndex  = []byte("entity_index")  // kind 0 path 0 ^updated(8) doc id → nil
	bucketActivations  = []byte("activations")   // ns 0 start(8) id → stored JSON
	bucketActivationID = []byte("activation_id") // ns/id → start(8) entityPath
	bucketActivationNm = []byte("activation_nm") // ns 0 entityPath 0 start(8) id → nil
	bucketSubjects     = []byte("subjects")      // subject → stored JSON
	bucketAuth         = []byte("subject_auth")  // uuid 0 key → subject 0 namespace
	bucketNamespaces   = []byte("subject_ns")    // namespace 0 subject → nil
	bucketLimits       = []byte("limits")        // namespace → UserLimits JSON
)

var allBuckets = [][]byte{bucketEntities, bucketEntityMeta, bucketEntityIndex, bucketActivations,
	bucketActivationID, bucketActivationNm, bucketSubjects, bucketAuth, bucketNamespaces, bucketLimits}

// DB is an open store. Its methods are safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	cfg  Config
	log  *slog.Logger
	path string

	ents *entityStore
	acts *activationStore
	subs *subjectStore

	stop      context.CancelFunc
	bg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the store in dir: the directory is
// created with mode 0700 and the data lives in dir/gowhisk.db. If another
// process holds the file, Open fails after cfg.OpenTimeout.
func Open(ctx context.Context, dir string, cfg Config) (*DB, error) {
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.OpenTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: %s is locked: another process (another gowhisk?) may hold it; gave up after %s: %w",
			path, cfg.OpenTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("boltstore: initialize %s: %w", path, err)
	}
	db := &DB{bolt: bdb, cfg: cfg, log: cfg.Logger, path: path}
	db.ents = &entityStore{db: bdb}
	db.subs = &subjectStore{db: bdb}
	db.acts = newActivationStore(bdb, cfg)
	bgctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	db.stop = cancel
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		db.acts.run()
	}()
	if cfg.Retention.MaxAge > 0 || cfg.Retention.MaxCount > 0 {
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			db.retentionLoop(bgctx)
		}()
	}
	return db, nil
}

func withDefaults(cfg Config) Config {
	if cfg.DurabilityWindow <= 0 {
		cfg.DurabilityWindow = DefaultDurabilityWindow
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	if cfg.Retention.Interval <= 0 {
		cfg.Retention.Interval = DefaultRetentionInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Path is the bolt file's path.
func (db *DB) Path() string { return db.path }

// Entities is the store of actions, packages, triggers and rules.
func (db *DB) Entities() entity.Store { return db.ents }

// Activations is the store of activation records.
func (db *DB) Activations() entity.Activations { return db.acts }

// Subjects is the store of subjects, keys and namespace limits.
func (db *DB) Subjects() entity.SubjectAdmin { return db.subs }

// Close stops the background work, commits every queued activation record
// and closes the file. Later calls return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.acts.close()
		db.stop()
		db.bg.Wait()
		err := db.acts.lastErr()
		if cerr := db.bolt.Close(); cerr != nil && err == nil {
			err = cerr
		}
		db.closeErr = err
	})
	return db.closeErr
}
