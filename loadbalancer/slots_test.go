package loadbalancer

import (
	"testing"

	"github.com/gowhisk/gowhisk/messaging"
)

func TestInvokerSlotMB(t *testing.T) {
	tests := []struct {
		name    string
		memory  messaging.ByteSize
		cluster int
		want    int
	}{
		{"one controller", 2048 * messaging.MB, 1, 2048},
		{"two controllers", 2048 * messaging.MB, 2, 1024},
		{"three controllers round down", 1000 * messaging.MB, 3, 333},
		{"minimum 128", 512 * messaging.MB, 8, 128},
		{"no memory reported", 0, 1, 128},
		{"cluster size zero is one", 1024 * messaging.MB, 0, 1024},
		{"gigabytes", 4 * messaging.GB, 2, 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := invokerSlotMB(tt.memory, tt.cluster); got != tt.want {
				t.Fatalf("invokerSlotMB(%v, %d) = %d, want %d", tt.memory, tt.cluster, got, tt.want)
			}
		})
	}
}

// slotOp is one operation on a nestedSemaphore in a scripted table.
type slotOp struct {
	op            string // "try", "force" or "release"
	key           string
	maxConcurrent int
	memMB         int
	wantOK        bool // for "try"
	wantUsed      int  // used memory afterwards
}

func TestNestedSemaphore(t *testing.T) {
	tests := []struct {
		name    string
		permits int
		ops     []slotOp
	}{
		{"memory only", 512, []slotOp{
			{"try", "a", 1, 256, true, 256},
			{"try", "b", 1, 256, true, 512},
			{"try", "a", 1, 256, false, 512},
			{"release", "a", 1, 256, false, 256},
			{"try", "c", 1, 128, true, 384},
			{"try", "c", 1, 256, false, 384},
		}},
		{"larger than permits never fits", 128, []slotOp{
			{"try", "a", 1, 256, false, 0},
		}},
		{"force overdraws", 256, []slotOp{
			{"try", "a", 1, 256, true, 256},
			{"force", "a", 1, 256, false, 512},
			{"try", "b", 1, 128, false, 512},
			{"release", "a", 1, 256, false, 256},
			{"try", "b", 1, 128, false, 256},
			{"release", "a", 1, 256, false, 0},
			{"try", "b", 1, 128, true, 128},
		}},
		{"concurrent action reserves memory once per container", 512, []slotOp{
			{"try", "c", 3, 256, true, 256}, // container 1, slot 1
			{"try", "c", 3, 256, true, 256}, // slot 2
			{"try", "c", 3, 256, true, 256}, // slot 3
			{"try", "c", 3, 256, true, 512}, // container 2
			{"try", "d", 1, 128, false, 512},
			{"release", "c", 3, 256, false, 256}, // 3 free slots: a container's worth
			{"release", "c", 3, 256, false, 256},
			{"release", "c", 3, 256, false, 256},
			{"try", "d", 1, 128, true, 384},
			{"release", "c", 3, 256, false, 128}, // last slot: container gone
		}},
		{"concurrent action without memory", 256, []slotOp{
			{"try", "x", 1, 256, true, 256},
			{"try", "c", 2, 128, false, 256},
			{"force", "c", 2, 128, false, 384},
			{"try", "c", 2, 128, true, 384}, // the forced container's second slot
			{"try", "c", 2, 128, false, 384},
			{"release", "c", 2, 128, false, 384},
			{"release", "c", 2, 128, false, 256},
		}},
		{"concurrent actions are counted per key", 512, []slotOp{
			{"try", "c", 2, 256, true, 256},
			{"try", "e", 2, 256, true, 512},
			{"try", "c", 2, 256, true, 512},
			{"try", "e", 2, 256, true, 512},
			{"try", "c", 2, 256, false, 512},
		}},
		{"release of an unknown key is ignored", 512, []slotOp{
			{"release", "nope", 2, 256, false, 0},
			{"try", "c", 2, 256, true, 256},
			{"release", "c", 2, 256, false, 0},
			{"release", "c", 2, 256, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newNestedSemaphore(tt.permits)
			for i, o := range tt.ops {
				switch o.op {
				case "try":
					if got := s.tryAcquire(o.key, o.maxConcurrent, o.memMB); got != o.wantOK {
						t.Fatalf("op %d: tryAcquire(%s) = %v, want %v", i, o.key, got, o.wantOK)
					}
				case "force":
					s.forceAcquire(o.key, o.maxConcurrent, o.memMB)
				case "release":
					s.release(o.key, o.maxConcurrent, o.memMB)
				}
				if s.used != o.wantUsed {
					t.Fatalf("op %d (%s %s): used %d MB, want %d", i, o.op, o.key, s.used, o.wantUsed)
				}
				if s.free() != tt.permits-o.wantUsed {
					t.Fatalf("op %d: free %d", i, s.free())
				}
			}
		})
	}
}

func TestNestedSemaphoreForgetsIdleActions(t *testing.T) {
	s := newNestedSemaphore(1024)
	for range 4 {
		s.tryAcquire("c", 4, 256)
	}
	for range 4 {
		s.release("c", 4, 256)
	}
	if len(s.actions) != 0 || s.used != 0 {
		t.Fatalf("after releasing everything: %d actions, %d MB", len(s.actions), s.used)
	}
}
