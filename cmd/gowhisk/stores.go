package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
	"github.com/gowhisk/gowhisk/entity/couchdb"
)

// How long to wait for the data dir's lock before giving up: the admin
// commands fail fast; a starting server waits a little for a previous one
// that is still shutting down.
const (
	adminLockWait      = 2 * time.Second
	standaloneLockWait = 5 * time.Second
)

// openBolt opens the embedded store in dir, turning a lock held by another
// process into an error that says what to do.
func openBolt(ctx context.Context, dir string, cfg boltstore.Config, lockWait time.Duration) (*boltstore.DB, error) {
	cfg.OpenTimeout = lockWait
	db, err := boltstore.Open(ctx, dir, cfg)
	if err == nil {
		return db, nil
	}
	if isLockTimeout(err) {
		return nil, fmt.Errorf("data dir %s is in use by another process (is 'gowhisk standalone' running on it? stop it first): %w", dir, err)
	}
	return nil, fmt.Errorf("opening data dir %s: %w", dir, err)
}

// isLockTimeout reports whether a boltstore.Open error means another
// process holds the database. boltstore has no sentinel for it (it wraps
// bbolt's timeout, which only boltstore may import), so this reads its
// message.
func isLockTimeout(err error) bool {
	return errors.Is(err, entity.ErrUnavailable) || strings.Contains(err.Error(), " is locked")
}

// adminStore is what the admin commands need from a store.
type adminStore interface {
	Subjects() entity.SubjectAdmin
	Close() error
}

// storeOptions select the store of `gowhisk admin`.
type storeOptions struct {
	dataDir                        string
	couchURL, couchUser, couchPass string
	dbPrefix                       string
}

// open opens the selected store. With create false, a bolt data dir
// without a database is an error rather than a new empty database.
func (o storeOptions) open(ctx context.Context, log *slog.Logger, create bool) (adminStore, error) {
	if o.couchURL != "" {
		c, err := couchdb.Open(ctx, couchdb.Config{
			URL: o.couchURL, Username: o.couchUser, Password: o.couchPass, Prefix: o.dbPrefix, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("opening CouchDB at %s: %w", o.couchURL, err)
		}
		return c, nil
	}
	dir, err := dataDirOrErr(o.dataDir)
	if err != nil {
		return nil, err
	}
	if !create && !boltFileExists(dir) {
		return nil, fmt.Errorf("no gowhisk database in data dir %s (set --data-dir or GOWHISK_DATA_DIR, or --couchdb-url for CouchDB)", dir)
	}
	return openBolt(ctx, dir, boltstore.Config{Logger: log}, adminLockWait)
}
