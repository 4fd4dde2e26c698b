package pool

import "testing"

func TestTransition(t *testing.T) {
	tests := []struct {
		name   string
		from   state
		ev     event
		to     state
		action action
	}{
		{"cold container created", stStarting, evCreated, stInitializing, actInit},
		{"stem cell created", stStarting, evPrewarmed, stPrewarmed, actNone},
		{"creation failed", stStarting, evCreateFailed, stRemoving, actRelease},
		{"closed while starting", stStarting, evClose, stRemoving, actNone},
		{"claim of a starting concurrent container", stStarting, evClaim, stStarting, actWaitRun},
		{"stem cell claimed", stPrewarmed, evClaim, stInitializing, actInit},
		{"stem cell evicted", stPrewarmed, evEvict, stRemoving, actDestroy},
		{"stem cell closed", stPrewarmed, evClose, stRemoving, actDestroy},
		{"claim during init", stInitializing, evClaim, stInitializing, actWaitRun},
		{"init ok", stInitializing, evInitOK, stRunning, actRun},
		{"init failed", stInitializing, evInitFailed, stRemoving, actDestroy},
		{"closed during init", stInitializing, evClose, stRemoving, actDestroy},
		{"concurrent claim while running", stRunning, evClaim, stRunning, actRun},
		{"run done, others running", stRunning, evRunDone, stRunning, actNone},
		{"run done, idle", stRunning, evRunDoneIdle, stReady, actIdle},
		{"run failed", stRunning, evRunFailed, stRemoving, actDestroy},
		{"closed while running", stRunning, evClose, stRemoving, actDestroy},
		{"late pause result after claim", stRunning, evPaused, stRunning, actNone},
		{"late pause failure after claim", stRunning, evPauseFailed, stRunning, actNone},
		{"warm claim", stReady, evClaim, stRunning, actRun},
		{"pause grace elapsed", stReady, evPauseDue, stPausing, actPause},
		{"idle timeout while ready", stReady, evIdleTimeout, stRemoving, actDestroy},
		{"evicted while ready", stReady, evEvict, stRemoving, actDestroy},
		{"closed while ready", stReady, evClose, stRemoving, actDestroy},
		{"claim while pausing", stPausing, evClaim, stRunning, actAwaitPauseResume},
		{"paused", stPausing, evPaused, stPaused, actIdle},
		{"pause failed", stPausing, evPauseFailed, stRemoving, actDestroy},
		{"evicted while pausing", stPausing, evEvict, stRemoving, actDestroy},
		{"idle timeout while pausing", stPausing, evIdleTimeout, stRemoving, actDestroy},
		{"closed while pausing", stPausing, evClose, stRemoving, actDestroy},
		{"claim while paused", stPaused, evClaim, stRunning, actResumeRun},
		{"idle timeout while paused", stPaused, evIdleTimeout, stRemoving, actDestroy},
		{"evicted while paused", stPaused, evEvict, stRemoving, actDestroy},
		{"closed while paused", stPaused, evClose, stRemoving, actDestroy},
		{"created after close", stRemoving, evCreated, stRemoving, actDestroy},
		{"stem created after close", stRemoving, evPrewarmed, stRemoving, actDestroy},
		{"creation failed after close", stRemoving, evCreateFailed, stRemoving, actRelease},
		{"init ok after close finishes the job", stRemoving, evInitOK, stRemoving, actRun},
		{"init failed after close", stRemoving, evInitFailed, stRemoving, actNone},
		{"last run of a doomed container", stRemoving, evRunDoneIdle, stRemoving, actDestroy},
		{"failed run of a doomed container", stRemoving, evRunFailed, stRemoving, actDestroy},
		{"other run of a doomed container", stRemoving, evRunDone, stRemoving, actNone},
		{"pause returned while removing", stRemoving, evPaused, stRemoving, actNone},
		{"timer while removing", stRemoving, evIdleTimeout, stRemoving, actNone},
		{"close while removing", stRemoving, evClose, stRemoving, actNone},
		// Impossible events: no state change.
		{"claim while removing", stRemoving, evClaim, stRemoving, actInvalid},
		{"run done while ready", stReady, evRunDone, stReady, actInvalid},
		{"pause due while running", stRunning, evPauseDue, stRunning, actInvalid},
		{"pause due while paused", stPaused, evPauseDue, stPaused, actInvalid},
		{"evict while running", stRunning, evEvict, stRunning, actInvalid},
		{"evict while initializing", stInitializing, evEvict, stInitializing, actInvalid},
		{"run done while starting", stStarting, evRunDone, stStarting, actInvalid},
		{"init ok while prewarmed", stPrewarmed, evInitOK, stPrewarmed, actInvalid},
		{"idle timeout of a stem cell", stPrewarmed, evIdleTimeout, stPrewarmed, actInvalid},
		{"run failed while initializing", stInitializing, evRunFailed, stInitializing, actInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to, act := transition(tc.from, tc.ev)
			if to != tc.to || act != tc.action {
				t.Fatalf("%v + %v = %v/%v, want %v/%v", tc.from, tc.ev, to, act, tc.to, tc.action)
			}
		})
	}
}

// TestTransitionTotal checks every state/event pair: Removing is
// absorbing, and an invalid pair never changes the state.
func TestTransitionTotal(t *testing.T) {
	for s := stStarting; s <= stRemoving; s++ {
		for e := evCreated; e <= evClose; e++ {
			to, act := transition(s, e)
			if s == stRemoving && to != stRemoving {
				t.Errorf("%v + %v leaves Removing", s, e)
			}
			if act == actInvalid && to != s {
				t.Errorf("invalid %v + %v changes the state to %v", s, e, to)
			}
			if to.String() == "state?" || act.String() == "action?" || e.String() == "event?" {
				t.Errorf("%v + %v: unnamed result", s, e)
			}
		}
	}
}

func TestClaimableAndIdle(t *testing.T) {
	tests := []struct {
		s         state
		claimable bool
		idle      bool
	}{
		{stStarting, true, false},
		{stPrewarmed, false, false},
		{stInitializing, true, false},
		{stRunning, true, false},
		{stReady, true, true},
		{stPausing, true, true},
		{stPaused, true, true},
		{stRemoving, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.s.String(), func(t *testing.T) {
			if claimable(tc.s) != tc.claimable || idle(tc.s) != tc.idle {
				t.Fatalf("claimable %v idle %v", claimable(tc.s), idle(tc.s))
			}
		})
	}
}
