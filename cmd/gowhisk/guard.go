package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/boltstore"
)

// boltFileExists reports whether dir already holds a database file: a data
// dir without one is new, and gets the guest and whisk.system namespaces.
func boltFileExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, boltstore.FileName))
	return err == nil
}

// wellKnownSubjects are the subjects a new standalone store starts with,
// with OpenWhisk's published keys (ansible/files/auth.guest and
// auth.whisk.system).
func wellKnownSubjects() []entity.Subject {
	return []entity.Subject{
		{Subject: entity.GuestSubject, Namespaces: []entity.NamespaceKey{{Name: entity.GuestSubject, UUID: entity.GuestUUID, Key: entity.GuestKey}}},
		{Subject: entity.SystemSubject, Namespaces: []entity.NamespaceKey{{Name: entity.SystemSubject, UUID: entity.SystemUUID, Key: entity.SystemKey}}},
	}
}

// bootstrapSubjects creates the well-known subjects if the store has no
// subject at all, and returns the names it created.
func bootstrapSubjects(ctx context.Context, s entity.SubjectAdmin) ([]string, error) {
	existing, err := s.ListSubjects(ctx)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, nil
	}
	var created []string
	for _, subj := range wellKnownSubjects() {
		if _, err := s.PutSubject(ctx, subj); err != nil {
			if errors.Is(err, entity.ErrExists) {
				continue
			}
			return created, err
		}
		created = append(created, subj.Subject)
	}
	return created, nil
}

// activeKey is a well-known key that authenticates in the store.
type activeKey struct {
	Subject, Namespace string
	Auth               string // uuid:key
}

// wellKnownKeysActive returns the well-known keys (guest, whisk.system) that
// currently authenticate, under whatever subject holds them.
func wellKnownKeysActive(ctx context.Context, s entity.Subjects) ([]activeKey, error) {
	var active []activeKey
	for _, k := range []struct{ uuid, key string }{
		{entity.GuestUUID, entity.GuestKey},
		{entity.SystemUUID, entity.SystemKey},
	} {
		id, err := s.Authenticate(ctx, k.uuid, k.key)
		switch {
		case errors.Is(err, entity.ErrUnauthenticated):
			continue
		case err != nil:
			return nil, fmt.Errorf("checking the well-known keys: %w", err)
		}
		active = append(active, activeKey{Subject: id.Subject, Namespace: id.Namespace.Name, Auth: k.uuid + ":" + k.key})
	}
	return active, nil
}

// guestKeyActive reports whether the stock guest key is among active.
func guestKeyActive(active []activeKey) bool {
	for _, a := range active {
		if a.Auth == entity.GuestAuthToken {
			return true
		}
	}
	return false
}

// isLoopbackHost reports whether a listen host only accepts connections
// from this machine: "localhost" or a loopback IP. The empty host and
// unspecified addresses listen everywhere; other names are not trusted.
func isLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(host), "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 { // IPv6 zone
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// refuseNonLoopback is the error for listening on host with public keys active.
func refuseNonLoopback(host, dataDir string, active []activeKey) error {
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to listen on non-loopback address %q: ", host)
	fmt.Fprintf(&b, "OpenWhisk's well-known public key is active for")
	for i, a := range active {
		if i > 0 {
			b.WriteString(" and")
		}
		fmt.Fprintf(&b, " subject %q (namespace %q)", a.Subject, a.Namespace)
	}
	b.WriteString(", so anyone who can reach this address could use it.\n")
	b.WriteString("With the server stopped, give it a new key or delete it, e.g.:\n")
	for _, a := range active {
		fmt.Fprintf(&b, "  gowhisk admin --data-dir %s user rekey %s -n %s\n", dataDir, a.Subject, a.Namespace)
	}
	for _, a := range active {
		fmt.Fprintf(&b, "  gowhisk admin --data-dir %s user delete %s\n", dataDir, a.Subject)
	}
	b.WriteString("or listen on a loopback address (--host 127.0.0.1)")
	return errors.New(b.String())
}

// buildInfo returns the build date and number reported by GET /api/v1,
// from the version control data the Go toolchain stamps into the binary.
func buildInfo() (build, buildNo string) {
	build, buildNo = "unknown", "dev"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return build, buildNo
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.time":
			build = s.Value
		case "vcs.revision":
			buildNo = s.Value
			if len(buildNo) > 12 {
				buildNo = buildNo[:12]
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		buildNo += "-dirty"
	}
	return build, buildNo
}
