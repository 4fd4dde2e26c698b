package pool

import (
	"context"
	"time"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

// execute runs job on its placement. retry reports that the container
// failed before the job ran on it (a failed Resume) and the job should be
// placed again.
func (p *Pool) execute(ctx context.Context, job Job, pl placement) (out Outcome, retry bool) {
	e := pl.e
	switch {
	case pl.create:
		return p.createAndRun(ctx, job, e)
	case pl.act == actInit:
		return p.initAndRun(ctx, job, e, pl.gate), false
	case pl.act == actResumeRun || pl.act == actAwaitPauseResume:
		if pl.pauseDone != nil {
			<-pl.pauseDone
		}
		rctx, cancel := context.WithTimeout(ctx, pauseTimeout)
		err := e.c.Resume(rctx)
		cancel()
		if err != nil {
			p.log.Warn("pool: resume failed", "container", e.name, "error", err)
			pl.gate.retry = true
			p.mu.Lock()
			e.gate = nil
			p.release(e, evRunFailed, p.clock.Now())
			p.mu.Unlock()
			close(pl.gate.done)
			return Outcome{}, true
		}
		p.mu.Lock()
		e.gate = nil
		p.mu.Unlock()
		close(pl.gate.done)
	case pl.gate != nil: // actRun or actWaitRun while /init or Resume is in progress
		<-pl.gate.done
		if pl.gate.fail != nil || pl.gate.retry {
			p.mu.Lock()
			p.release(e, evRunFailed, p.clock.Now())
			p.mu.Unlock()
			if pl.gate.retry {
				return Outcome{}, true
			}
			out := p.failed(*pl.gate.fail)
			return out, false
		}
	}
	p.runOn(ctx, job, e, &out)
	return out, false
}

// createAndRun creates the container reserved for job, then initializes it
// and runs the job.
func (p *Pool) createAndRun(ctx context.Context, job Job, e *entry) (Outcome, bool) {
	spec := job.Spec
	spec.Name = e.name
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	c, err := p.f.Create(cctx, spec)
	cancel()
	g := e.gate
	p.mu.Lock()
	if err != nil {
		p.log.Warn("pool: container creation failed", "action", job.Key.Action, "error", err)
		resp := container.InterpretCreate(err, spec.Kind == "blackbox")
		g.fail = &resp
		e.gate = nil
		e.active--
		p.do(e, p.apply(e, evCreateFailed))
		p.changed()
		p.mu.Unlock()
		close(g.done)
		return p.failed(resp), false
	}
	e.c = c
	if act := p.apply(e, evCreated); act != actInit { // the pool closed meanwhile
		resp := entity.ErrorResponse(entity.StatusWhiskError, "The invoker is shutting down.")
		g.fail = &resp
		e.gate = nil
		e.active--
		p.do(e, act)
		p.mu.Unlock()
		close(g.done)
		return p.failed(resp), false
	}
	p.mu.Unlock()
	return p.initAndRun(ctx, job, e, g), false
}

// initAndRun initializes e (a new container or a claimed stem cell) with
// the action and runs the job: a cold start. Runs that claimed e meanwhile
// (concurrency > 1) wait on g.
func (p *Pool) initAndRun(ctx context.Context, job Job, e *entry, g *gate) Outcome {
	out := Outcome{Cold: true, ContainerID: e.c.ID()}
	ictx, cancel := context.WithTimeout(ctx, job.Timeout)
	out.Start = p.clock.Now()
	res, err := e.c.Init(ictx, job.Init)
	cancel()
	initEnd := p.clock.Now()
	out.InitTime = initEnd.Sub(out.Start)
	resp, ok := container.InterpretInit(res, err, job.Timeout)
	if !ok {
		out.End, out.Response, out.TimedOut = initEnd, resp, container.TimedOut(err)
		g.fail = &resp
		p.mu.Lock()
		e.gate = nil
		p.do(e, p.apply(e, evInitFailed)) // Removing; destroyed once its runs are released
		p.changed()
		p.mu.Unlock()
		close(g.done)
		out.Logs = p.collectLogs(ctx, e, job, resp, err)
		p.mu.Lock()
		p.release(e, evRunFailed, p.clock.Now())
		p.mu.Unlock()
		return out
	}
	p.mu.Lock()
	e.gate = nil
	p.apply(e, evInitOK)
	p.mu.Unlock()
	close(g.done)
	p.runOn(ctx, job, e, &out)
	return out
}

// runOn runs job on the claimed, initialized container e, collects its
// logs and gives the container back.
func (p *Pool) runOn(ctx context.Context, job Job, e *entry, out *Outcome) {
	out.ContainerID = e.c.ID()
	rctx, cancel := context.WithTimeout(ctx, job.Timeout)
	start := p.clock.Now()
	if out.Start.IsZero() {
		out.Start = start
	}
	res, err := e.c.Run(rctx, job.Run)
	cancel()
	out.End = p.clock.Now()
	out.TimedOut = container.TimedOut(err)
	out.Response = container.InterpretRun(res, err, job.Timeout, p.cfg.TruncationSize)
	out.Logs = p.collectLogs(ctx, e, job, out.Response, err)
	ev := evRunDone
	if c := out.Response.StatusCode; c == entity.StatusDeveloperError || c == entity.StatusWhiskError {
		ev = evRunFailed
	}
	p.mu.Lock()
	p.release(e, ev, out.End)
	p.mu.Unlock()
}

// release ends one claim of e at now (under p.mu): ev is evRunDone (keep
// the container) or evRunFailed (destroy it).
func (p *Pool) release(e *entry, ev event, now time.Time) {
	if e.active > 0 {
		e.active--
	}
	if ev == evRunDone && e.active == 0 {
		ev = evRunDoneIdle
		e.idleSince = now
	}
	p.do(e, p.apply(e, ev))
	p.changed()
}

// collectLogs reads the activation's logs as planLogs decides (failed is
// the Container error of its /init or /run) and formats them as OpenWhisk
// stores them, with its notices appended.
func (p *Pool) collectLogs(ctx context.Context, e *entry, job Job, resp entity.Response, failed error) []string {
	plan := planLogs(resp.StatusCode, failed, job.LogLimit)
	lctx, cancel := context.WithTimeout(ctx, plan.bound)
	e.logMu.Lock()
	lines, truncated, err := e.c.Logs(lctx, job.LogLimit, plan.wait)
	e.logMu.Unlock()
	cancel()
	logs := container.FormatLogs(lines, truncated, job.LogLimit)
	if err != nil {
		p.log.Debug("pool: logs incomplete", "container", e.name, "error", err)
	}
	if err != nil || plan.always {
		logs = append(logs, container.FormatLogLine(p.clock.Now(), "stderr", plan.notice))
	}
	return logs
}
