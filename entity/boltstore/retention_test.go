package boltstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/entity/storetest"
)

// fixedClock is a settable clock for retention tests.
type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

// keyCounts reports how many entries each activation bucket holds.
func keyCounts(t *testing.T, db *DB) (acts, ids, names int) {
	t.Helper()
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		acts = tx.Bucket(bucketActivations).Stats().KeyN
		ids = tx.Bucket(bucketActivationID).Stats().KeyN
		names = tx.Bucket(bucketActivationNm).Stats().KeyN
		return nil
	})
	return
}

func putAll(t *testing.T, db *DB, as ...*entity.Activation) {
	t.Helper()
	for _, a := range as {
		if err := db.Activations().Put(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Activations().Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func listIDs(t *testing.T, db *DB, ns string, q entity.ActivationQuery) []string {
	t.Helper()
	got, err := db.Activations().List(ctx(t), ns, q)
	if err != nil {
		t.Fatal(err)
	}
	return ids(got)
}

func TestRetentionMaxAge(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	clock := &fixedClock{now: base}
	db := openTest(t, Config{Now: clock.Now, Retention: Retention{MaxAge: time.Hour, Interval: time.Hour}})
	ms := base.UnixMilli()
	old1 := storetest.Activation("guest", "pkg", "a", ms-2*3600_000)
	old2 := storetest.Activation("other", "", "a", ms-3600_000-1)
	edge := storetest.Activation("guest", "", "a", ms-3600_000) // exactly MaxAge old: kept
	fresh := storetest.Activation("guest", "", "b", ms-1000)
	putAll(t, db, old1, old2, edge, fresh)

	n, err := db.Purge(ctx(t))
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want 2 deleted", n, err)
	}
	if got := listIDs(t, db, "guest", entity.ActivationQuery{}); fmt.Sprint(got) != fmt.Sprint([]string{fresh.ActivationID, edge.ActivationID}) {
		t.Fatalf("guest after purge = %v", got)
	}
	if got := listIDs(t, db, "other", entity.ActivationQuery{}); len(got) != 0 {
		t.Fatalf("other after purge = %v", got)
	}
	if got := listIDs(t, db, "guest", entity.ActivationQuery{Name: "pkg/a"}); len(got) != 0 {
		t.Fatalf("name index still lists purged record: %v", got)
	}
	if _, err := db.Activations().Get(ctx(t), "guest", old1.ActivationID); !errors.Is(err, entity.ErrNotFound) {
		t.Fatalf("Get purged record: %v", err)
	}
	if a, i, nm := keyCounts(t, db); a != 2 || i != 2 || nm != 2 {
		t.Fatalf("bucket entries after purge = %d records, %d ids, %d names; want 2 each", a, i, nm)
	}

	// Time passes: the clock, not sleeping, ages the rest.
	clock.now = base.Add(2 * time.Hour)
	if n, err := db.Purge(ctx(t)); err != nil || n != 2 {
		t.Fatalf("second Purge = %d, %v; want 2", n, err)
	}
	if a, i, nm := keyCounts(t, db); a != 0 || i != 0 || nm != 0 {
		t.Fatalf("bucket entries after second purge = %d, %d, %d; want none", a, i, nm)
	}
}

func TestRetentionMaxCount(t *testing.T) {
	db := openTest(t, Config{Retention: Retention{MaxCount: 3, Interval: time.Hour}})
	var guest []*entity.Activation
	for i := range 6 {
		a := storetest.Activation("guest", "", fmt.Sprintf("n%d", i%2), int64(1000+i))
		guest = append(guest, a)
	}
	small := []*entity.Activation{storetest.Activation("guest2", "", "x", 1), storetest.Activation("guest2", "", "x", 2)}
	putAll(t, db, append(guest, small...)...)
	n, err := db.Purge(ctx(t))
	if err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want 3", n, err)
	}
	want := []string{guest[5].ActivationID, guest[4].ActivationID, guest[3].ActivationID}
	if got := listIDs(t, db, "guest", entity.ActivationQuery{}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("guest after purge = %v, want the 3 newest %v", got, want)
	}
	if got := listIDs(t, db, "guest2", entity.ActivationQuery{}); len(got) != 2 {
		t.Fatalf("guest2 (under the limit) lost records: %v", got)
	}
	if got := listIDs(t, db, "guest", entity.ActivationQuery{Name: "n0"}); fmt.Sprint(got) != fmt.Sprint([]string{guest[4].ActivationID}) {
		t.Fatalf("by name n0 after purge = %v", got)
	}
	if a, i, nm := keyCounts(t, db); a != 5 || i != 5 || nm != 5 {
		t.Fatalf("bucket entries = %d, %d, %d; want 5 each", a, i, nm)
	}
	if n, err := db.Purge(ctx(t)); err != nil || n != 0 {
		t.Fatalf("repeated Purge = %d, %v; want 0", n, err)
	}
}

func TestRetentionBoth(t *testing.T) {
	clock := &fixedClock{now: time.UnixMilli(100_000)}
	db := openTest(t, Config{Now: clock.Now, Retention: Retention{MaxAge: 50 * time.Second, MaxCount: 2}})
	var as []*entity.Activation
	for _, start := range []int64{10_000, 20_000, 60_000, 70_000, 80_000} {
		as = append(as, storetest.Activation("guest", "", "a", start))
	}
	putAll(t, db, as...)
	if n, err := db.Purge(ctx(t)); err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want 3 (2 by age, 1 by count)", n, err)
	}
	want := []string{as[4].ActivationID, as[3].ActivationID}
	if got := listIDs(t, db, "guest", entity.ActivationQuery{}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after purge = %v, want %v", got, want)
	}
}

func TestNoRetentionKeepsEverything(t *testing.T) {
	db := openTest(t, Config{})
	putAll(t, db, storetest.Activation("guest", "", "a", 1))
	if n, err := db.Purge(ctx(t)); err != nil || n != 0 {
		t.Fatalf("Purge without retention = %d, %v", n, err)
	}
	if a, _, _ := keyCounts(t, db); a != 1 {
		t.Fatalf("records = %d, want 1", a)
	}
}

func TestRetentionRunsInBackground(t *testing.T) {
	db := openTest(t, Config{Retention: Retention{MaxCount: 1, Interval: time.Millisecond}})
	putAll(t, db, storetest.Activation("guest", "", "a", 1), storetest.Activation("guest", "", "a", 2), storetest.Activation("guest", "", "a", 3))
	for {
		if a, i, nm := keyCounts(t, db); a == 1 && i == 1 && nm == 1 {
			break
		}
		time.Sleep(time.Millisecond) // wait for the loop; the test deadline bounds this
	}
}
