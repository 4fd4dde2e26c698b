package loadbalancer

import "github.com/gowhisk/gowhisk/messaging"

// minInvokerSlotMB is the least memory a controller accounts for on one
// invoker (OpenWhisk's MemoryLimit.MIN_MEMORY).
const minInvokerSlotMB = 128

// invokerSlotMB is the memory this controller may fill on an invoker with
// userMemory: its share when clusterSize controllers schedule on it, at
// least minInvokerSlotMB.
func invokerSlotMB(userMemory messaging.ByteSize, clusterSize int) int {
	if clusterSize < 1 {
		clusterSize = 1
	}
	return max(userMemory.MegaBytes()/clusterSize, minInvokerSlotMB)
}

// nestedSemaphore is one invoker's memory slots (OpenWhisk's
// NestedSemaphore): memory permits in MB, and for actions with
// intra-container concurrency (maxConcurrent > 1) action-level slots, so
// that memory is reserved once per container and each container then
// takes maxConcurrent activations of its action. Forced acquisitions may
// overdraw the memory. It is not safe for concurrent use (the shell holds
// its lock).
type nestedSemaphore struct {
	permits int // memory in MB
	used    int // memory in use, may exceed permits after forced acquisitions
	actions map[string]*actionSlots
}

// actionSlots counts one concurrent action's reserved containers and the
// activations running in them.
type actionSlots struct {
	containers int
	running    int
}

func newNestedSemaphore(permitsMB int) *nestedSemaphore {
	return &nestedSemaphore{permits: permitsMB, actions: map[string]*actionSlots{}}
}

// free is the memory still available (negative when overdrawn).
func (s *nestedSemaphore) free() int { return s.permits - s.used }

// tryAcquire takes a slot for one activation of the action key needing
// memMB, if there is room: memMB of memory when maxConcurrent <= 1, else a
// free action-level slot or, failing that, memMB for a new container with
// maxConcurrent slots.
func (s *nestedSemaphore) tryAcquire(key string, maxConcurrent, memMB int) bool {
	return s.acquire(key, maxConcurrent, memMB, false)
}

// forceAcquire takes the slot even if the memory is overdrawn.
func (s *nestedSemaphore) forceAcquire(key string, maxConcurrent, memMB int) {
	s.acquire(key, maxConcurrent, memMB, true)
}

func (s *nestedSemaphore) acquire(key string, maxConcurrent, memMB int, force bool) bool {
	memMB = max(memMB, 0)
	if maxConcurrent <= 1 {
		if !force && s.free() < memMB {
			return false
		}
		s.used += memMB
		return true
	}
	a := s.actions[key]
	if a != nil && a.running < a.containers*maxConcurrent {
		a.running++
		return true
	}
	if !force && s.free() < memMB {
		return false
	}
	if a == nil {
		a = &actionSlots{}
		s.actions[key] = a
	}
	s.used += memMB
	a.containers++
	a.running++
	return true
}

// release gives back the slot of one activation taken with the same key,
// maxConcurrent and memMB. A concurrent action's container memory is
// released once none of its slots is in use.
func (s *nestedSemaphore) release(key string, maxConcurrent, memMB int) {
	memMB = max(memMB, 0)
	if maxConcurrent <= 1 {
		s.used -= memMB
		return
	}
	a := s.actions[key]
	if a == nil || a.running == 0 {
		return // nothing taken under this key
	}
	a.running--
	if a.containers*maxConcurrent-a.running >= maxConcurrent {
		a.containers--
		s.used -= memMB
	}
	if a.containers == 0 && a.running == 0 {
		delete(s.actions, key)
	}
}
