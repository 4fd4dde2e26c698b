package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCleanupRemovesCgroupDirectories: Cleanup removes the invoker's own
// cgroup directories <CgroupParent>/<Name> and the CgroupParent once no
// other invoker uses it; Create makes them again after a Cleanup.
func TestCleanupRemovesCgroupDirectories(t *testing.T) {
	parent := "gowhisk-test-parent" + strconv.Itoa(os.Getpid()) + "_" + strconv.FormatInt(specSeq.Add(1), 10)
	withParent := func(c *Config) { c.CgroupParent = parent }
	a := newFactory(t, withParent)
	if a.cg == nil {
		t.Skip("no writable cgroup here")
	}
	b := newFactory(t, withParent)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exists := func(d string) bool {
		_, err := os.Stat(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	parents := func(f *Factory) (own, shared []string) {
		for _, d := range f.parentDirs() {
			own, shared = append(own, d), append(shared, filepath.Dir(d))
		}
		return own, shared
	}

	create(t, a, "python:3.11", 128)
	cb := create(t, b, "python:3.11", 128)
	if err := a.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup of a: %v", err)
	}
	aOwn, shared := parents(a)
	for _, d := range aOwn {
		if exists(d) {
			t.Errorf("%s left after the Cleanup of a", d)
		}
	}
	for _, d := range shared {
		if !exists(d) {
			t.Errorf("%s removed while b uses it", d)
		}
	}

	// a creates containers again.
	c := create(t, a, "nodejs:20", 128)
	initCode(t, c, nodeHello)
	if res, err := run(c, `{"name":"again"}`, 20*time.Second); err != nil || res.Status != 200 {
		t.Fatalf("run after Cleanup: %v %d %s", err, res.Status, res.Body)
	}
	for _, d := range c.cg.allDirs() {
		if !exists(d) {
			t.Errorf("cgroup %s of a container created after Cleanup missing", d)
		}
	}
	if err := a.Cleanup(ctx); err != nil {
		t.Fatalf("second Cleanup of a: %v", err)
	}
	// The last user removes the CgroupParent too.
	if err := b.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup of b: %v", err)
	}
	bOwn, _ := parents(b)
	for _, d := range append(append(aOwn, bOwn...), shared...) {
		if exists(d) {
			t.Errorf("%s left after every Cleanup", d)
		}
	}
	if _, err := run(cb, `{}`, time.Second); err == nil {
		t.Error("b's container runs after b's Cleanup")
	}
}
