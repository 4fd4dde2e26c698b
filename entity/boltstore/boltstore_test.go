package boltstore

import (
	"context"
	"testing"

	"github.com/gowhisk/gowhisk/entity/storetest"
)

// openTest opens a store in a fresh directory, closed at the end of the test.
func openTest(t testing.TB, cfg Config) *DB {
	t.Helper()
	db, err := Open(context.Background(), t.TempDir(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db := openTest(t, Config{})
		return storetest.Stores{Entities: db.Entities(), Activations: db.Activations(), Subjects: db.Subjects()}
	})
}

// ctx is the context of store calls in tests.
func ctx(testing.TB) context.Context { return context.Background() }
