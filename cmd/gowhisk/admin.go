package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
)

func newAdminCmd(e env) *cobra.Command {
	o := &storeOptions{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage subjects, namespace keys and namespace limits (like OpenWhisk's wskadmin)",
		Long: `Manage subjects (users), the namespaces they own with their uuid:key
credentials, and per-namespace limits, in either store:

  the embedded store of a standalone server:  --data-dir DIR (default $HOME/.gowhisk)
  CouchDB (OpenWhisk's database layout):       --couchdb-url URL [--couchdb-user U --couchdb-password P] [--db-prefix P]

The embedded store can only be opened by one process at a time: stop
'gowhisk standalone' before changing its data dir.`,
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.dataDir, "data-dir", defaultDataDir(e), "data directory of the embedded store")
	pf.StringVar(&o.couchURL, "couchdb-url", "", "CouchDB URL, e.g. http://127.0.0.1:5984 (selects CouchDB instead of the embedded store)")
	pf.StringVar(&o.couchUser, "couchdb-user", "", "CouchDB user name")
	pf.StringVar(&o.couchPass, "couchdb-password", "", "CouchDB password")
	pf.StringVar(&o.dbPrefix, "db-prefix", "whisk_local_", "prefix of the CouchDB database names (<prefix>subjects, ...)")
	for name, v := range map[string]string{
		"data-dir": "GOWHISK_DATA_DIR", "couchdb-url": "GOWHISK_COUCHDB_URL", "couchdb-user": "GOWHISK_COUCHDB_USER",
		"couchdb-password": "GOWHISK_COUCHDB_PASSWORD", "db-prefix": "GOWHISK_DB_PREFIX",
	} {
		bindEnv(pf, name, v)
	}
	a := &admin{e: e, store: o}
	cmd.AddCommand(newUserCmd(a), newLimitsCmd(a))
	return cmd
}

// admin runs admin commands against the store selected by the flags.
type admin struct {
	e     env
	store *storeOptions
}

// with opens the store (creating an embedded one only if create), runs f
// on its subjects and closes it.
func (a *admin) with(ctx context.Context, create bool, f func(context.Context, entity.SubjectAdmin) error) (err error) {
	log := slog.New(slog.NewTextHandler(a.e.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := a.store.open(ctx, log, create)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()
	return f(ctx, s.Subjects())
}

func (a *admin) printf(format string, args ...any) {
	fmt.Fprintf(a.e.Stdout, format, args...)
}

// minSubjectLength is wskadmin's minimum subject name length.
const minSubjectLength = 5

// checkSubject validates a subject name.
func checkSubject(s string) error {
	switch {
	case len(s) < minSubjectLength:
		return usageError{fmt.Errorf("subject name %q must be at least %d characters", s, minSubjectLength)}
	case strings.ContainsAny(s, " \t\r\n/"):
		return usageError{fmt.Errorf("subject name %q must not contain spaces or '/'", s)}
	}
	return nil
}

// checkNamespace validates a namespace name (an OpenWhisk entity name).
func checkNamespace(ns string) error {
	if !entity.ValidName(ns) {
		return usageError{fmt.Errorf("namespace %q is not a valid name", ns)}
	}
	return nil
}

// parseAuth validates a "uuid:key" credential: a UUID and a 64-character
// alphanumeric key.
func parseAuth(s string) (uuid, key string, err error) {
	uuid, key, ok := entity.SplitAuth(s)
	switch {
	case !ok:
		return "", "", usageError{errors.New("authorization must be UUID:KEY")}
	case !validUUID(uuid):
		return "", "", usageError{fmt.Errorf("authorization id %q is not a valid UUID", uuid)}
	case !entity.ValidKey(key):
		return "", "", usageError{fmt.Errorf("authorization key must be exactly %d letters and digits", entity.KeyLength)}
	}
	return uuid, key, nil
}

// validUUID reports whether s is a dashed hexadecimal UUID (8-4-4-4-12).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
				return false
			}
		}
	}
	return true
}

// credentials returns the uuid and key given with -u, or new random ones.
func credentials(auth string) (uuid, key string, err error) {
	if auth == "" {
		return entity.NewUUID(), entity.NewKey(), nil
	}
	return parseAuth(auth)
}

// findNamespace returns the index of namespace ns in s, or -1.
func findNamespace(s entity.Subject, ns string) int {
	for i, n := range s.Namespaces {
		if n.Name == ns {
			return i
		}
	}
	return -1
}
