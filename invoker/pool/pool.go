package pool

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

// entry is one container of the pool. Its fields are guarded by Pool.mu,
// except c (set once before the entry is claimable) and logMu.
type entry struct {
	name    string
	c       container.Container
	key     Key
	hasKey  bool // false for an unclaimed stem cell
	memMB   int
	maxConc int
	active  int // runs (and claims) in progress
	state   state
	stemIdx int // index in Pool.stems for a stem cell not yet claimed, else -1

	idleSince  time.Time
	timer      timer
	gate       *gate         // init or resume in progress (claimers wait on it)
	pauseDone  chan struct{} // closed when the Pause in progress returns
	destroying bool
	links      [nLists]link
	logMu      sync.Mutex // Logs is called by one run at a time
}

// gate lets runs that share a container wait for its /init or Resume.
type gate struct {
	done  chan struct{}
	fail  *entity.Response // init failed: the waiters' response too
	retry bool             // resume failed: the waiters go elsewhere
}

func newGate() *gate { return &gate{done: make(chan struct{})} }

// stemConfig is a configured kind+memory of stem cells and its bookkeeping.
type stemConfig struct {
	cell  StemCell
	key   stemKey
	have  int // starting or prewarmed
	fails int // consecutive creation failures
}

// waiter is a job in the run buffer.
type waiter struct{ wake chan struct{} }

// Pool runs jobs in containers; see the package documentation. It is safe
// for concurrent use.
type Pool struct {
	cfg    Config
	f      container.Factory
	clock  clock
	log    *slog.Logger
	ctx    context.Context // background work (stem cells, pause)
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	usedMB  int
	seq     uint64
	all     map[*entry]struct{}
	free    map[Key]*entryList
	idle    *entryList
	stemIdx map[stemKey]*entryList
	prewarm *entryList
	stems   []stemConfig
	buffer  list.List // of *waiter, FIFO
	busy    int       // Run calls in progress
	drained chan struct{}
}

// New returns a pool creating containers with f and starts the configured
// stem cells in the background (ctx bounds that background work).
func New(ctx context.Context, cfg Config, f container.Factory) (*Pool, error) {
	cfg = cfg.withDefaults()
	return newPool(ctx, cfg, f, realClock{now: cfg.Now})
}

func newPool(ctx context.Context, cfg Config, f container.Factory, clk clock) (*Pool, error) {
	if f == nil {
		return nil, entity.Invalidf("pool: no container factory")
	}
	p := &Pool{
		cfg: cfg, f: f, clock: clk, log: cfg.Logger,
		all:     map[*entry]struct{}{},
		free:    map[Key]*entryList{},
		idle:    newList(inIdle),
		stemIdx: map[stemKey]*entryList{},
		prewarm: newList(inPrewarm),
	}
	for _, sc := range cfg.StemCells {
		if sc.Kind == "" || sc.MemoryMB <= 0 || sc.Count < 0 {
			return nil, entity.Invalidf("pool: invalid stem cell %+v", sc)
		}
		k := stemKey{sc.Kind, sc.MemoryMB}
		merged := false
		for i := range p.stems {
			if p.stems[i].key == k {
				p.stems[i].cell.Count += sc.Count
				merged = true
			}
		}
		if !merged {
			p.stems = append(p.stems, stemConfig{cell: sc, key: k})
		}
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.mu.Lock()
	p.replenish()
	p.mu.Unlock()
	return p, nil
}

// Run runs job and returns its outcome; it blocks until the job is done,
// waiting in the run buffer (bounded by ctx) while the pool is full. The
// action time limit (job.Timeout) bounds /init and /run separately.
func (p *Pool) Run(ctx context.Context, job Job) Outcome {
	job = job.withDefaults()
	if err := ctx.Err(); err != nil {
		return p.failed(entity.ErrorResponse(entity.StatusWhiskError, "The activation was not run: "+err.Error()+"."))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.failed(entity.ErrorResponse(entity.StatusWhiskError, "The invoker is shutting down."))
	}
	p.busy++
	p.mu.Unlock()
	defer p.runDone()

	for attempt := 1; ; attempt++ {
		pl, resp, ok := p.place(ctx, job)
		if !ok {
			return p.failed(resp)
		}
		out, retry := p.execute(ctx, job, pl)
		if !retry {
			return out
		}
		if attempt >= maxRunAttempts {
			return p.failed(entity.ErrorResponse(entity.StatusWhiskError, "Failed to provision resources to run the action."))
		}
	}
}

func (p *Pool) runDone() {
	p.mu.Lock()
	p.busy--
	if p.busy == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
	p.mu.Unlock()
}

// failed is the outcome of a job that did not get to run.
func (p *Pool) failed(resp entity.Response) Outcome {
	now := p.clock.Now()
	return Outcome{Response: resp, Logs: []string{}, Start: now, End: now}
}

// placement is where a job runs and what must happen first.
type placement struct {
	e         *entry
	act       action        // actInit (stem cell or new), actRun, actWaitRun, actResumeRun, actAwaitPauseResume
	create    bool          // a new container: Create first
	gate      *gate         // wait for it (actRun, actWaitRun); or own it (init, resume)
	pauseDone chan struct{} // actAwaitPauseResume
}

type placeStatus uint8

const (
	placed placeStatus = iota
	mustWait
	never
)

// place finds a container for job: at once when the run buffer is empty
// and there is room, else after waiting its turn in the buffer.
func (p *Pool) place(ctx context.Context, job Job) (placement, entity.Response, bool) {
	p.mu.Lock()
	if p.buffer.Len() == 0 {
		pl, st := p.tryPlace(job)
		switch st {
		case placed:
			p.changed()
			p.mu.Unlock()
			return pl, entity.Response{}, true
		case never:
			p.mu.Unlock()
			return placement{}, tooLarge(job, p.cfg.UserMemoryMB), false
		}
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	el := p.buffer.PushBack(w)
	p.log.Debug("job waits in the run buffer", "action", job.Key.Action, "buffered", p.buffer.Len())
	for {
		p.mu.Unlock()
		select {
		case <-w.wake:
		case <-ctx.Done():
			p.mu.Lock()
			p.buffer.Remove(el)
			p.changed()
			p.mu.Unlock()
			return placement{}, entity.ErrorResponse(entity.StatusWhiskError, "The activation was not run: "+ctx.Err().Error()+"."), false
		}
		p.mu.Lock()
		if p.closed {
			p.buffer.Remove(el)
			p.changed()
			p.mu.Unlock()
			return placement{}, entity.ErrorResponse(entity.StatusWhiskError, "The invoker is shutting down."), false
		}
		if p.buffer.Front() != el {
			continue
		}
		pl, st := p.tryPlace(job)
		switch st {
		case placed:
			p.buffer.Remove(el)
			p.changed()
			p.mu.Unlock()
			return pl, entity.Response{}, true
		case never:
			p.buffer.Remove(el)
			p.changed()
			p.mu.Unlock()
			return placement{}, tooLarge(job, p.cfg.UserMemoryMB), false
		}
	}
}

func tooLarge(job Job, userMB int) entity.Response {
	return entity.ErrorResponse(entity.StatusWhiskError, fmt.Sprintf(
		"The action needs %d MB of memory but the invoker has only %d MB.", job.Spec.MemoryMB, userMB))
}

// tryPlace decides, under p.mu, as OpenWhisk's ContainerPool: a warm
// container of the same key, else a stem cell of the same kind and memory,
// else a new container if memory allows (evicting idle containers least
// recently used first), else wait.
func (p *Pool) tryPlace(job Job) (placement, placeStatus) {
	if e := pick(p.free, job.Key); e != nil {
		return p.claim(e), placed
	}
	if e := stemCellFor(p.stemIdx, job.Spec); e != nil {
		e.key, e.hasKey, e.maxConc = job.Key, true, job.Concurrency
		g := newGate()
		e.gate = g
		pl := p.claim(e)
		pl.gate = g
		return pl, placed
	}
	need := job.Spec.MemoryMB
	if need > p.cfg.UserMemoryMB {
		return placement{}, never
	}
	victims, ok := evict(concat(p.idle.all(), p.prewarm.all()), p.cfg.UserMemoryMB-p.usedMB, need)
	if !ok {
		return placement{}, mustWait
	}
	for _, v := range victims {
		p.log.Debug("evicting container", "container", v.name, "state", v.state.String())
		p.do(v, p.apply(v, evEvict))
	}
	e := p.newEntry(p.containerName(job.Spec.Name, job.Key.Action), need, -1)
	e.key, e.hasKey, e.maxConc, e.active = job.Key, true, job.Concurrency, 1
	e.gate = newGate()
	p.reindex(e) // with concurrency > 1, more runs may wait for it
	return placement{e: e, act: actInit, create: true, gate: e.gate}, placed
}

// claim gives e to a job (under p.mu).
func (p *Pool) claim(e *entry) placement {
	e.active++
	act := p.apply(e, evClaim)
	pl := placement{e: e, act: act}
	switch act {
	case actRun, actWaitRun:
		pl.gate = e.gate
	case actResumeRun, actAwaitPauseResume:
		pl.pauseDone = e.pauseDone
		pl.gate = newGate()
		e.gate = pl.gate
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	return pl
}

// newEntry reserves memory for a container in state Starting (under p.mu).
func (p *Pool) newEntry(name string, memMB, stemIdx int) *entry {
	e := &entry{name: name, memMB: memMB, maxConc: 1, stemIdx: stemIdx, state: stStarting}
	p.usedMB += memMB
	p.all[e] = struct{}{}
	return e
}

// containerName is "<prefix>_<n>_<suffix>" with only [A-Za-z0-9_].
func (p *Pool) containerName(suffix, fallback string) string {
	p.seq++
	s := sanitizeName(suffix)
	if s == "" {
		s = sanitizeName(fallback)
	}
	name := p.cfg.Name + "_" + strconv.FormatUint(p.seq, 10) + "_" + s
	if len(name) > maxContainerNameChars {
		name = name[:maxContainerNameChars]
	}
	return name
}

// apply runs the state table for e (under p.mu) and keeps the indexes,
// the memory and the stem-cell counts in step with the new state.
func (p *Pool) apply(e *entry, ev event) action {
	from := e.state
	to, act := transition(from, ev)
	if act == actInvalid {
		p.log.Error("pool: invalid container event", "container", e.name, "state", from.String(), "event", ev.String())
		return act
	}
	e.state = to
	if e.stemIdx >= 0 && to != stStarting && to != stPrewarmed {
		p.stems[e.stemIdx].have--
		e.stemIdx = -1
	}
	if from == stPrewarmed && to != stPrewarmed {
		for _, l := range []listID{inStem, inPrewarm} {
			if in := e.links[l].in; in != nil {
				in.remove(e)
			}
		}
	}
	if to == stRemoving && from != stRemoving {
		p.usedMB -= e.memMB
	}
	p.reindex(e)
	return act
}

// reindex puts e into exactly the lists its state and load call for.
func (p *Pool) reindex(e *entry) {
	if claimable(e.state) && e.hasKey && e.active < e.maxConc {
		if e.links[inFree].in == nil {
			l := p.free[e.key]
			if l == nil {
				l = newList(inFree)
				p.free[e.key] = l
			}
			l.pushBack(e)
		}
	} else if in := e.links[inFree].in; in != nil {
		in.remove(e)
		if e.state == stRemoving && in.n == 0 {
			delete(p.free, e.key)
		}
	}
	if idle(e.state) && e.active == 0 {
		if e.links[inIdle].in == nil {
			p.idle.pushBack(e)
		}
	} else {
		p.idle.remove(e)
	}
}

// do performs the actions of the timer, pause and release paths (under
// p.mu); the run path handles init and run itself.
func (p *Pool) do(e *entry, act action) {
	switch act {
	case actIdle:
		p.armTimer(e)
	case actPause:
		p.startPause(e)
	case actDestroy:
		p.destroy(e)
	case actRelease:
		delete(p.all, e)
	}
}

// armTimer schedules e's next idle decision (pause, then removal).
func (p *Pool) armTimer(e *entry) {
	d, ok := nextWake(e.state, e.idleSince, p.clock.Now(), p.cfg.PauseGrace, p.cfg.IdleTimeout)
	if !ok {
		return
	}
	if e.timer == nil {
		e.timer = p.clock.AfterFunc(func() { p.onTimer(e) })
	}
	e.timer.Reset(d)
}

func (p *Pool) onTimer(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	ev, ok := timerEvent(e.state, e.idleSince, p.clock.Now(), p.cfg.PauseGrace, p.cfg.IdleTimeout)
	if !ok {
		p.armTimer(e)
		return
	}
	act := p.apply(e, ev)
	p.do(e, act)
	if ev == evIdleTimeout {
		p.changed()
	}
}

// startPause pauses e in the background; a claim meanwhile waits for
// pauseDone and resumes the container.
func (p *Pool) startPause(e *entry) {
	done := make(chan struct{})
	e.pauseDone = done
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, pauseTimeout)
		err := e.c.Pause(ctx)
		cancel()
		p.mu.Lock()
		defer p.mu.Unlock()
		close(done)
		if e.pauseDone == done {
			e.pauseDone = nil
		}
		ev := evPaused
		if err != nil {
			p.log.Warn("pool: pause failed", "container", e.name, "error", err)
			ev = evPauseFailed
		}
		act := p.apply(e, ev)
		p.do(e, act)
		if act == actDestroy {
			p.changed()
		}
	}()
}

// destroy destroys e in the background once no run is left on it (under
// p.mu; e is already Removing). A Pause in progress is waited out.
func (p *Pool) destroy(e *entry) {
	if e.destroying || e.active > 0 || e.c == nil {
		return
	}
	e.destroying = true
	if e.timer != nil {
		e.timer.Stop()
	}
	pauseDone := e.pauseDone
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		if pauseDone != nil {
			<-pauseDone
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), destroyTimeout)
		if err := e.c.Destroy(ctx); err != nil {
			p.log.Warn("pool: destroy failed", "container", e.name, "error", err)
		}
		cancel()
		p.mu.Lock()
		delete(p.all, e)
		p.mu.Unlock()
	}()
}

// changed is called (under p.mu) when memory or containers were freed:
// the head of the run buffer retries, or, with no job waiting, missing
// stem cells are started.
func (p *Pool) changed() {
	if f := p.buffer.Front(); f != nil {
		select {
		case f.Value.(*waiter).wake <- struct{}{}:
		default:
		}
		return
	}
	p.replenish()
}

// Close fails the jobs waiting in the run buffer, lets the runs in
// progress finish (bounded by ctx; then their containers are destroyed
// under them) and destroys every container. The factory's Cleanup is the
// caller's.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for el := p.buffer.Front(); el != nil; el = el.Next() {
		select {
		case el.Value.(*waiter).wake <- struct{}{}:
		default:
		}
	}
	for e := range p.all {
		p.do(e, p.apply(e, evClose))
	}
	drained := make(chan struct{})
	if p.busy == 0 {
		close(drained)
	} else {
		p.drained = drained
	}
	p.mu.Unlock()

	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		p.mu.Lock()
		for e := range p.all {
			if e.state == stRemoving && e.active > 0 {
				p.log.Warn("pool: destroying a container with runs in progress", "container", e.name)
				e.active = 0
				p.destroy(e)
			}
		}
		p.mu.Unlock()
	}
	p.cancel()
	bgDone := make(chan struct{})
	go func() { p.bg.Wait(); close(bgDone) }()
	select {
	case <-bgDone:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return err
}
