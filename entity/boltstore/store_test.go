package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/storetest"
)

func TestRevisionsCouchDBStyle(t *testing.T) {
	db := openTest(t, Config{})
	es := db.Entities()
	a := storetest.Action("guest", "", "r", 1)
	re := regexp.MustCompile(`^([0-9]+)-[0-9a-f]{32}$`)
	rev := ""
	for gen := 1; gen <= 3; gen++ {
		a.SetRevision(rev)
		var err error
		rev, err = es.Put(ctx(t), a)
		if err != nil {
			t.Fatalf("Put gen %d: %v", gen, err)
		}
		m := re.FindStringSubmatch(rev)
		if m == nil || m[1] != fmt.Sprint(gen) {
			t.Fatalf("revision %q, want %d-<32 hex>", rev, gen)
		}
	}
	sub := storetest.Subject("alice")
	srev, err := db.Subjects().PutSubject(ctx(t), sub)
	if err != nil || !strings.HasPrefix(srev, "1-") || !re.MatchString(srev) {
		t.Fatalf("subject revision %q, %v", srev, err)
	}
	// A malformed revision can never match: conflict, not a crash.
	a.SetRevision("garbage")
	if _, err := es.Put(ctx(t), a); !errors.Is(err, entity.ErrConflict) {
		t.Fatalf("Put with malformed revision: %v, want ErrConflict", err)
	}
}

func TestStoredFormIsCouchDBDocument(t *testing.T) {
	db := openTest(t, Config{})
	a := storetest.Action("guest", "pkg", "hello", 42)
	rev, err := db.Entities().Put(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		raw = append(raw, tx.Bucket(bucketEntities).Get([]byte("guest/pkg/hello"))...)
		return nil
	})
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("stored value is not JSON: %v: %s", err, raw)
	}
	if doc["_id"] != "guest/pkg/hello" || doc["_rev"] != rev || doc["entityType"] != "action" ||
		doc["namespace"] != "guest/pkg" || doc["name"] != "hello" || doc["updated"] != float64(42) {
		t.Fatalf("stored document = %s", raw)
	}
	back, err := entity.UnmarshalStored(raw, "")
	if err != nil || back.Revision() != rev || back.FullName() != a.FullName() {
		t.Fatalf("UnmarshalStored(stored) = %v, %v", back, err)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	// A long window: only Close commits the queued records.
	db, err := Open(ctx(t), dir, Config{DurabilityWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := db.Entities().Put(ctx(t), storetest.Action("guest", "", "keep", 7))
	if err != nil {
		t.Fatal(err)
	}
	sub := storetest.Subject("alice")
	if _, err := db.Subjects().PutSubject(ctx(t), sub); err != nil {
		t.Fatal(err)
	}
	inv := 3
	if err := db.Subjects().PutLimits(ctx(t), "alice", entity.UserLimits{InvocationsPerMinute: &inv}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 20 {
		a := storetest.Activation("alice", "", "act", int64(1000+i))
		ids = append(ids, a.ActivationID)
		if err := db.Activations().Put(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db2 := openAt(t, dir, Config{})
	d, err := db2.Entities().Get(ctx(t), entity.KindAction, entity.NewFQN("guest", "", "keep"))
	if err != nil || d.Revision() != rev {
		t.Fatalf("entity after reopen: %v rev %v, want rev %q", err, d, rev)
	}
	id, err := db2.Subjects().Authenticate(ctx(t), sub.Namespaces[0].UUID, sub.Namespaces[0].Key)
	if err != nil || id.Subject != "alice" || id.Limits.InvocationsPerMinute == nil || *id.Limits.InvocationsPerMinute != 3 {
		t.Fatalf("Authenticate after reopen = %+v, %v", id, err)
	}
	got, err := db2.Activations().List(ctx(t), "alice", entity.ActivationQuery{})
	if err != nil || len(got) != 20 {
		t.Fatalf("List after reopen = %d records, %v; want 20", len(got), err)
	}
	for i, a := range got {
		if want := ids[19-i]; a.ActivationID != want {
			t.Fatalf("record %d after reopen = %s, want %s", i, a.ActivationID, want)
		}
	}
	if n, err := db2.Activations().Count(ctx(t), "alice", entity.ActivationQuery{Name: "act"}); err != nil || n != 20 {
		t.Fatalf("Count by name after reopen = %d, %v", n, err)
	}
}

func openAt(t *testing.T, dir string, cfg Config) *DB {
	t.Helper()
	db, err := Open(ctx(t), dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpenLockedFailsClearly(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir, Config{})
	_, err := Open(ctx(t), dir, Config{OpenTimeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("a second Open of a held file succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, dir) || !strings.Contains(msg, "another process") || !strings.Contains(msg, "locked") {
		t.Fatalf("error %q should name the path and say another process may hold it", msg)
	}
}

func TestOpenUnusableDir(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/plain"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx(t), file+"/sub", Config{}); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}

func TestPutAfterClose(t *testing.T) {
	db, err := Open(ctx(t), t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	acts := db.Activations()
	if err := acts.Put(ctx(t), storetest.Activation("guest", "", "x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := acts.Put(ctx(t), storetest.Activation("guest", "", "x", 2)); !errors.Is(err, ErrClosed) || !errors.Is(err, entity.ErrUnavailable) {
		t.Fatalf("Put after Close: %v, want ErrClosed", err)
	}
	if err := acts.Flush(ctx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush after Close: %v, want ErrClosed", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCommitsWhenBatchFills(t *testing.T) {
	// The window never ends: only a full batch makes the writer commit.
	db := openTest(t, Config{DurabilityWindow: time.Hour, MaxBatch: 4})
	for i := range 4 {
		if err := db.Activations().Put(ctx(t), storetest.Activation("guest", "", "b", int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for committed := 0; committed < 4; {
		_ = db.bolt.View(func(tx *bolt.Tx) error {
			committed = tx.Bucket(bucketActivations).Stats().KeyN
			return nil
		})
		time.Sleep(time.Millisecond) // wait for the writer; the test deadline bounds this
	}
}

func TestPutWithFullQueueHonoursContext(t *testing.T) {
	db := openTest(t, Config{MaxBatch: 1}) // queue capacity 4
	acts := db.Activations()
	// Hold bolt's writer lock so the activation writer blocks in its commit.
	held, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before the store's Close
	go func() {
		_ = db.bolt.Update(func(*bolt.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	// With an ended context, Put still succeeds while the queue has room;
	// once the blocked writer lets it fill, Put must give up.
	cctx, cancel := context.WithCancel(ctx(t))
	cancel()
	var queued []*entity.Activation
	var late *entity.Activation
	for i := 0; late == nil; i++ {
		if i == 100 {
			t.Fatal("the queue never filled while the writer was blocked")
		}
		a := storetest.Activation("guest", "", "q", int64(i))
		switch err := acts.Put(cctx, a); {
		case err == nil:
			queued = append(queued, a)
		case errors.Is(err, context.Canceled):
			late = a
		default:
			t.Fatalf("Put with full queue and ended ctx: %v, want context.Canceled", err)
		}
	}
	if _, err := acts.Get(ctx(t), "guest", late.ActivationID); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("rejected record is visible: %v", err)
	}
	if _, err := acts.Get(ctx(t), "guest", queued[len(queued)-1].ActivationID); err != nil {
		t.Fatalf("queued record is not visible: %v", err)
	}
	unblock()
	if err := acts.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n, err := acts.Count(ctx(t), "guest", entity.ActivationQuery{}); err != nil || n != len(queued) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(queued))
	}
}

func TestBadInputIsRejected(t *testing.T) {
	db := openTest(t, Config{})
	if _, err := db.Entities().Put(ctx(t), nil); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Put nil: %v", err)
	}
	bad := storetest.Action("gu\x00est", "", "a", 1)
	if _, err := db.Entities().Put(ctx(t), bad); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Put with a NUL in the namespace: %v", err)
	}
	if _, err := db.Entities().List(ctx(t), entity.Kind("bogus"), "guest", entity.ListQuery{}); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("List of an unknown kind: %v", err)
	}
	if _, err := db.Entities().Get(ctx(t), entity.Kind("bogus"), entity.NewFQN("guest", "", "a")); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Get of an unknown kind: %v", err)
	}
	if err := db.Activations().Put(ctx(t), nil); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Put nil activation: %v", err)
	}
	a := storetest.Activation("guest", "", "x", 1)
	a.Namespace = "a/b"
	if err := db.Activations().Put(ctx(t), a); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("Put activation with namespace a/b: %v", err)
	}
	if _, err := db.Subjects().PutSubject(ctx(t), entity.Subject{}); !errors.Is(err, entity.ErrInvalid) {
		t.Fatalf("PutSubject without a name: %v", err)
	}
	dup := storetest.Subject("dup")
	dup.Namespaces = append(dup.Namespaces, dup.Namespaces[0])
	if _, err := db.Subjects().PutSubject(ctx(t), dup); !errors.Is(err, entity.ErrExists) {
		t.Fatalf("PutSubject with the same credentials twice: %v", err)
	}
	if _, err := db.Activations().Get(ctx(t), "", ""); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("Get empty activation id: %v", err)
	}
}

// TestConcurrentPutAndList runs writers and readers together (meaningful
// under -race): every writer reads its own record back at once.
func TestConcurrentPutAndList(t *testing.T) {
	db := openTest(t, Config{MaxBatch: 16})
	acts := db.Activations()
	const writers, perWriter = 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", w)
			for i := range perWriter {
				a := storetest.Activation("guest", "", name, int64(w*1000+i))
				if err := acts.Put(ctx(t), a); err != nil {
					errs <- err
					return
				}
				if _, err := acts.Get(ctx(t), "guest", a.ActivationID); err != nil {
					errs <- fmt.Errorf("writer %d: own record %s not visible: %w", w, a.ActivationID, err)
					return
				}
				got, err := acts.List(ctx(t), "guest", entity.ActivationQuery{Name: name, Limit: 1})
				if err != nil || len(got) != 1 || got[0].ActivationID != a.ActivationID {
					errs <- fmt.Errorf("writer %d: newest by name = %v, %v; want %s", w, ids(got), err, a.ActivationID)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := acts.List(ctx(t), "guest", entity.ActivationQuery{})
				if err != nil {
					errs <- err
					return
				}
				seen := make(map[string]bool, len(got))
				for i, a := range got {
					if seen[a.ActivationID] {
						errs <- fmt.Errorf("List returned %s twice", a.ActivationID)
						return
					}
					seen[a.ActivationID] = true
					if i > 0 && got[i-1].Start < a.Start {
						errs <- fmt.Errorf("List out of order at %d", i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := acts.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n, err := acts.Count(ctx(t), "guest", entity.ActivationQuery{}); err != nil || n != writers*perWriter {
		t.Fatalf("Count = %d, %v; want %d", n, err, writers*perWriter)
	}
}

func ids(as []*entity.Activation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ActivationID
	}
	return out
}
