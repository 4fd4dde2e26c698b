// Package couchdb is the CouchDB entity store: OpenWhisk's database layout
// (databases <prefix>whisks, <prefix>activations and <prefix>subjects,
// documents with _id "ns/name" and entityType, OpenWhisk's design documents
// and views) behind the seams of package entity. It is the only package that
// imports kivik.
//
// It also runs against pouchdb-server, whose deviations from CouchDB it
// codes around: revisions are never taken from ETags, an update at a
// revision first checks the stored revision (pouchdb resurrects a missing or
// deleted document when written at a revision it does not know), and
// deletes go through _bulk_docs with _deleted:true.
package couchdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	kivikcouch "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/gowhisk/gowhisk/entity"
)

// Defaults of Config.
const (
	DefaultPrefix      = "whisk_local_"
	DefaultBatchWindow = 5 * time.Millisecond
	DefaultMaxBatch    = 500
	DefaultRetries     = 3
	DefaultQueueSize   = 10000
)

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// URL of the CouchDB server, e.g. "http://127.0.0.1:5984".
	URL string
	// Username and Password are sent with every request (basic auth).
	Username, Password string
	// Prefix of the database names (OpenWhisk's db_prefix); lower case.
	Prefix string
	Logger *slog.Logger

	// BatchWindow bounds how long an activation record waits in memory
	// before it is written (its durability window).
	BatchWindow time.Duration
	// MaxBatch is the most activation records written by one _bulk_docs.
	MaxBatch int
	// Retries is how many times a batch is tried on transient failures.
	Retries int
	// QueueSize is how many activation records may wait to be written
	// before Put blocks.
	QueueSize int
	// HTTPClient, if set, is used for every request.
	HTTPClient *http.Client
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.BatchWindow <= 0 {
		c.BatchWindow = DefaultBatchWindow
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// The databases, after the prefix.
const (
	whisksDB      = "whisks"
	activationsDB = "activations"
	subjectsDB    = "subjects"
)

// dbNamePattern is CouchDB's rule for database names.
var dbNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_$()+/-]*$`)

// validDBName reports whether CouchDB accepts name as a database name.
// pouchdb-server accepts more (upper case); checking here keeps both alike.
func validDBName(name string) bool {
	return len(name) <= 238 && dbNamePattern.MatchString(name)
}

// Client is an open connection to the three databases.
type Client struct {
	client      *kivik.Client
	whisks      *kivik.DB
	activations *kivik.DB
	subjects    *kivik.DB
	log         *slog.Logger

	entities *entityStore
	acts     *activationStore
	subs     *subjectStore

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the server, creates the databases and the design
// documents if they are missing (and updates design documents whose views
// differ), and starts the activation writer. Close releases it.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.URL == "" {
		return nil, entity.Invalidf("couchdb: no URL configured")
	}
	names := map[string]string{}
	for _, n := range []string{whisksDB, activationsDB, subjectsDB} {
		full := cfg.Prefix + n
		if !validDBName(full) {
			return nil, entity.Invalidf("couchdb: illegal database name %q (lower case letters, digits and _$()+-/ only, starting with a letter)", full)
		}
		names[n] = full
	}
	opts := []kivik.Option{kivikcouch.BasicAuth(cfg.Username, cfg.Password)}
	if cfg.HTTPClient != nil {
		opts = append(opts, kivikcouch.OptionHTTPClient(cfg.HTTPClient))
	}
	kc, err := kivik.New("couch", strings.TrimRight(cfg.URL, "/")+"/", opts...)
	if err != nil {
		return nil, fmt.Errorf("couchdb: %w", err)
	}
	c := &Client{client: kc, log: cfg.Logger}
	for _, n := range []string{whisksDB, activationsDB, subjectsDB} {
		if err := ensureDB(ctx, kc, names[n]); err != nil {
			_ = kc.Close()
			return nil, err
		}
	}
	c.whisks = kc.DB(names[whisksDB])
	c.activations = kc.DB(names[activationsDB])
	c.subjects = kc.DB(names[subjectsDB])
	for _, dd := range []struct {
		db   *kivik.DB
		docs []designDoc
	}{
		{c.whisks, whisksDesignDocs()},
		{c.activations, activationsDesignDocs()},
		{c.subjects, subjectsDesignDocs()},
	} {
		for _, d := range dd.docs {
			if err := ensureDesignDoc(ctx, dd.db, d, cfg.Logger); err != nil {
				_ = kc.Close()
				return nil, err
			}
		}
	}
	c.entities = &entityStore{db: c.whisks}
	c.subs = &subjectStore{db: c.subjects}
	c.acts = newActivationStore(c.activations, cfg)
	cfg.Logger.Info("couchdb store open", "url", cfg.URL, "prefix", cfg.Prefix)
	return c, nil
}

// ensureDB creates the database unless it exists.
func ensureDB(ctx context.Context, kc *kivik.Client, name string) error {
	ok, err := kc.DBExists(ctx, name)
	if err != nil {
		return storeError("check database "+name, err)
	}
	if ok {
		return nil
	}
	err = kc.CreateDB(ctx, name)
	if err != nil && kivik.HTTPStatus(err) != http.StatusPreconditionFailed {
		return storeError("create database "+name, err)
	}
	return nil
}

// Entities is the whisks database as an entity.Store.
func (c *Client) Entities() entity.Store { return c.entities }

// Activations is the activations database as entity.Activations.
func (c *Client) Activations() entity.Activations { return c.acts }

// Subjects is the subjects database as entity.SubjectAdmin.
func (c *Client) Subjects() entity.SubjectAdmin { return c.subs }

// Close writes the queued activation records and closes the connection.
// It waits for the writer at most 30 seconds, and reports records that
// could not be written. Later calls return the first call's result.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.closeErr = errors.Join(c.acts.close(ctx), c.client.Close())
	})
	return c.closeErr
}
