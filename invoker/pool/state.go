package pool

// state is a container's lifecycle state (OpenWhisk ContainerProxy's
// states, with Prewarmed for a started stem cell and Initializing for
// /init in progress).
type state uint8

const (
	stStarting     state = iota // Factory.Create in progress
	stPrewarmed                 // a stem cell: started, not initialized, unclaimed
	stInitializing              // /init in progress for the claiming job
	stRunning                   // one or more /run in progress
	stReady                     // initialized and idle (warm)
	stPausing                   // Pause in progress
	stPaused                    // paused (warm, frozen)
	stRemoving                  // being destroyed (or to be, once its runs end)
)

func (s state) String() string {
	names := [...]string{"Starting", "Prewarmed", "Initializing", "Running", "Ready", "Pausing", "Paused", "Removing"}
	if int(s) < len(names) {
		return names[s]
	}
	return "state?"
}

// event is what happens to a container.
type event uint8

const (
	evCreated      event = iota // Create returned, for the job that reserved it
	evPrewarmed                 // Create returned, as a stem cell
	evCreateFailed              // Create failed
	evClaim                     // a job takes the container
	evInitOK                    // /init succeeded
	evInitFailed                // /init failed (developer or whisk error)
	evRunDone                   // a /run ended, the container is kept and other runs remain
	evRunDoneIdle               // a /run ended, the container is kept and no run remains
	evRunFailed                 // a /run ended in a developer or whisk error
	evPauseDue                  // the pause grace elapsed while idle
	evPaused                    // Pause returned
	evPauseFailed               // Pause failed
	evIdleTimeout               // the idle timeout elapsed
	evEvict                     // the pool needs its memory
	evClose                     // the pool is closing
)

func (e event) String() string {
	names := [...]string{"Created", "Prewarmed", "CreateFailed", "Claim", "InitOK", "InitFailed",
		"RunDone", "RunDoneIdle", "RunFailed", "PauseDue", "Paused", "PauseFailed", "IdleTimeout", "Evict", "Close"}
	if int(e) < len(names) {
		return names[e]
	}
	return "event?"
}

// action is what the shell does on a transition.
type action uint8

const (
	actNone             action = iota // nothing (a late event, or a state change only)
	actInvalid                        // the event cannot happen in this state: log it, change nothing
	actInit                           // /init, then /run (a cold start)
	actRun                            // /run
	actWaitRun                        // wait for the /init in progress, then /run
	actResumeRun                      // Resume, then /run
	actAwaitPauseResume               // wait for the Pause in progress, Resume, then /run
	actIdle                           // arm the idle timer (pause, then removal)
	actPause                          // Pause
	actDestroy                        // Destroy (once no run remains)
	actRelease                        // forget it: there is no container to destroy
)

func (a action) String() string {
	names := [...]string{"None", "Invalid", "Init", "Run", "WaitRun", "ResumeRun", "AwaitPauseResume",
		"Idle", "Pause", "Destroy", "Release"}
	if int(a) < len(names) {
		return names[a]
	}
	return "action?"
}

// transition is the container state table: the next state and the action
// for an event in a state. Entering Removing always releases the
// container's memory and takes it out of the pool's indexes (the shell does
// this once); Destroy waits for a Pause in progress and for running runs.
//
//	from          event                         to            action
//	Starting      Created                       Initializing  Init
//	Starting      Prewarmed                     Prewarmed     None
//	Starting      CreateFailed                  Removing      Release
//	Starting      Close                         Removing      None (the creator destroys it)
//	Starting      Claim (concurrency > 1)       Starting      WaitRun
//	Prewarmed     Claim                         Initializing  Init
//	Prewarmed     Evict, Close                  Removing      Destroy
//	Initializing  Claim (concurrency > 1)       Initializing  WaitRun
//	Initializing  InitOK                        Running       Run
//	Initializing  InitFailed, Close             Removing      Destroy
//	Running       Claim (concurrency > 1)       Running       Run
//	Running       RunDone                       Running       None
//	Running       RunDoneIdle                   Ready         Idle
//	Running       RunFailed, Close              Removing      Destroy
//	Running       Paused, PauseFailed           Running       None (claimed while pausing)
//	Ready         Claim                         Running       Run
//	Ready         PauseDue                      Pausing       Pause
//	Ready         IdleTimeout, Evict, Close     Removing      Destroy
//	Pausing       Claim                         Running       AwaitPauseResume
//	Pausing       Paused                        Paused        Idle
//	Pausing       PauseFailed                   Removing      Destroy
//	Pausing       IdleTimeout, Evict, Close     Removing      Destroy
//	Paused        Claim                         Running       ResumeRun
//	Paused        IdleTimeout, Evict, Close     Removing      Destroy
//	Removing      Created, Prewarmed            Removing      Destroy
//	Removing      InitOK                        Removing      Run (finish the job, then destroy)
//	Removing      CreateFailed                  Removing      Release
//	Removing      RunDoneIdle, RunFailed        Removing      Destroy
//	Removing      Claim                         Removing      Invalid
//	Removing      anything else                 Removing      None
//
// Every other pair is Invalid and leaves the state unchanged.
func transition(s state, e event) (state, action) {
	switch s {
	case stStarting:
		switch e {
		case evCreated:
			return stInitializing, actInit
		case evPrewarmed:
			return stPrewarmed, actNone
		case evCreateFailed:
			return stRemoving, actRelease
		case evClose:
			return stRemoving, actNone
		case evClaim:
			return stStarting, actWaitRun
		}
	case stPrewarmed:
		switch e {
		case evClaim:
			return stInitializing, actInit
		case evEvict, evClose:
			return stRemoving, actDestroy
		}
	case stInitializing:
		switch e {
		case evClaim:
			return stInitializing, actWaitRun
		case evInitOK:
			return stRunning, actRun
		case evInitFailed, evClose:
			return stRemoving, actDestroy
		}
	case stRunning:
		switch e {
		case evClaim:
			return stRunning, actRun
		case evRunDone, evPaused, evPauseFailed:
			return stRunning, actNone
		case evRunDoneIdle:
			return stReady, actIdle
		case evRunFailed, evClose:
			return stRemoving, actDestroy
		}
	case stReady:
		switch e {
		case evClaim:
			return stRunning, actRun
		case evPauseDue:
			return stPausing, actPause
		case evIdleTimeout, evEvict, evClose:
			return stRemoving, actDestroy
		}
	case stPausing:
		switch e {
		case evClaim:
			return stRunning, actAwaitPauseResume
		case evPaused:
			return stPaused, actIdle
		case evPauseFailed, evIdleTimeout, evEvict, evClose:
			return stRemoving, actDestroy
		}
	case stPaused:
		switch e {
		case evClaim:
			return stRunning, actResumeRun
		case evIdleTimeout, evEvict, evClose:
			return stRemoving, actDestroy
		}
	case stRemoving:
		switch e {
		case evCreated, evPrewarmed, evRunDoneIdle, evRunFailed:
			return stRemoving, actDestroy
		case evInitOK:
			return stRemoving, actRun
		case evCreateFailed:
			return stRemoving, actRelease
		case evClaim:
			return stRemoving, actInvalid
		}
		return stRemoving, actNone
	}
	return s, actInvalid
}

// claimable reports whether a job may be given a container in state s
// (with capacity left and created for its key: a stem cell is claimed
// through the stem cell index instead).
func claimable(s state) bool {
	switch s {
	case stStarting, stInitializing, stRunning, stReady, stPausing, stPaused:
		return true
	}
	return false
}

// idle reports whether a container in state s with no run is idle, i.e.
// evictable and subject to the pause and idle timers.
func idle(s state) bool {
	return s == stReady || s == stPausing || s == stPaused
}
