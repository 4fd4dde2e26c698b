package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Targets of issue 6, shown next to the rows they apply to.
const (
	targetWarm    = "p50 ≤ 1 ms, p99 ≤ 3 ms, ≤ 2× floor"
	targetTput    = "≥ 8000/s"
	targetRR      = "≥ 3000/s"
	targetStem    = "p50 ≤ 5 ms"
	targetCold    = "≤ interpreter start + 10 ms"
	targetResume  = "p99 ≤ 1 ms"
	targetRecords = "≥ 20000 records/s"
	targetAccept  = "≤ 5 ms to accept"
	targetFanout  = "all recorded within 50 ms"
	targetDist    = "p50 ≤ 2 ms"
)

func (b *bench) invokeOp(a api, name string) op {
	return func(ctx context.Context, _, _ int) error { return a.invoke(ctx, name) }
}

// mainServer runs sections 1–7 (except cold starts without a stem cell)
// against one gowhisk standalone whose manifest gives python stem cells.
func (b *bench) mainServer() {
	if !(b.want("1") || b.want("2") || b.want("3") || b.want("4") || b.want("5") || b.want("6") || b.want("7")) {
		return
	}
	stem := []any{map[string]any{"initialCount": 2, "memory": "256 MB"}}
	mf, err := b.manifest("main", map[string]any{"python:3.11": stem, "nodejs:20": stem})
	if err != nil {
		b.fail("1", "gowhisk standalone", err)
		return
	}
	g, err := startGowhisk(b.ctx, b.bin, b.work, "main", "--runtimes", mf,
		"--pause-grace", b.p.pauseGrace.String(), "--user-memory", fmt.Sprint(b.p.userMemoryMB))
	if err != nil {
		b.fail("1", "gowhisk standalone", err)
		return
	}
	defer func() {
		if err := g.stop(); err != nil {
			fmt.Fprintf(b.log, "main server stop: %v\n%s\n", err, tail(g.errPath))
		}
	}()
	a := api{newClient(g.apihost, g.auth, 256)}
	defer a.close()
	ctx := b.ctx
	for name, exec := range map[string]map[string]any{"noop-nodejs": nodeNoop, "noop-python": pythonNoop, "noop-native": b.nativeExec} {
		if err := a.putAction(ctx, name, exec); err != nil {
			b.fail("1", "create actions", err)
			return
		}
	}
	time.Sleep(500 * time.Millisecond) // stem cells start

	if b.want("1") {
		for _, kind := range []string{"nodejs", "python", "native"} {
			r := b.loadRow("1."+kind, "warm c=1 "+kind+" noop", 1, b.invokeOp(a, "noop-"+kind), g.pid())
			r.Floor, r.RatioOf = fmt.Sprintf(floorChain, kind, 1), "p50"
			if kind == "nodejs" {
				r.Target = targetWarm
			}
			b.add(r)
		}
	}
	// Before the load rows fill the pool with warm containers: with its
	// memory taken, the pool replaces a taken stem cell only once memory
	// frees up, and the cold starts would not find one.
	if b.want("4") {
		for _, k := range []struct {
			kind string
			exec map[string]any
		}{{"python", pythonNoop}, {"nodejs", nodeNoop}} {
			r := b.coldRow(a, "4.stem."+k.kind, "cold start from a stem cell, "+k.kind, "stem-"+k.kind, k.exec, b.p.stemWait)
			r.Floor, r.RatioOf = fmt.Sprintf(floorChain, k.kind, 1), "p50"
			if k.kind == "python" {
				r.Target = targetStem
			}
			b.add(r)
		}
	}
	if b.want("2") {
		for _, n := range []int{4, 16, 64} {
			r := b.loadRow(fmt.Sprintf("2.c%d", n), fmt.Sprintf("warm throughput c=%d nodejs noop", n), n, b.invokeOp(a, "noop-nodejs"), g.pid())
			r.Floor, r.RatioOf, r.Target = fmt.Sprintf(floorChain, floorChainNode, n), "rate", targetTput
			b.add(r)
		}
	}
	rr := b.p.distinct
	rrName := func(i int) string { return fmt.Sprintf("rr-%03d", i%rr) }
	haveRR := false
	if b.want("3") || b.want("7") {
		haveRR = true
		for i := range rr {
			if err := a.putAction(ctx, rrName(i), nodeNoop); err != nil {
				b.fail("3", "create distinct actions", err)
				haveRR = false
				break
			}
		}
	}
	if b.want("3") && haveRR {
		// Every action once (its container started), then the load.
		var first atomic.Int64
		warm := runLoad(ctx, 16, 0, rr, func(ctx context.Context, _, _ int) error { return a.invoke(ctx, rrName(int(first.Add(1)-1))) })
		if warm.firstErr != nil {
			b.fail("3.rr", "warm distinct actions", warm.firstErr)
		}
		var next atomic.Int64
		fn := func(ctx context.Context, _, _ int) error { return a.invoke(ctx, rrName(int(next.Add(1)))) }
		r := b.loadRow("3.rr", fmt.Sprintf("%d distinct warm nodejs actions, round robin, c=16", rr), 16, fn, g.pid())
		r.Floor, r.RatioOf, r.Target = fmt.Sprintf(floorChain, floorChainNode, 16), "rate", targetRR
		b.add(r)
	}
	if b.want("5") {
		b.add(b.resumeRow(a))
	}
	if b.want("7") && haveRR {
		b.fanoutRows(a, rrName)
	}
}

// defaultsServer runs section 6 on a server with the default pool size
// (--user-memory 2048) and manifest: a backlog of non-blocking
// activations starts a container per queued activation while memory
// allows (see BENCHMARKS.md), so the large pool of the main server would
// measure that storm instead of the accept path.
func (b *bench) defaultsServer() {
	if !b.want("6") {
		return
	}
	g, err := startGowhisk(b.ctx, b.bin, b.work, "defaults")
	if err != nil {
		b.fail("6", "gowhisk standalone with default pool", err)
		return
	}
	defer func() { _ = g.stop() }()
	a := api{newClient(g.apihost, g.auth, 32)}
	defer a.close()
	if err := a.putAction(b.ctx, "noop-nodejs", nodeNoop); err != nil {
		b.fail("6", "create action", err)
		return
	}
	runLoad(b.ctx, 8, b.p.warm, 0, b.invokeOp(a, "noop-nodejs"))
	b.asyncRows(a, g)
}

// resumeRow: the first invoke after the pause grace, each sample after an
// idle time well beyond it (the container is paused when it comes).
func (b *bench) resumeRow(a api) Row {
	res := idleSamples(b.ctx, b.p.resumeN, b.p.pauseWait, func(ctx context.Context, _, _ int) error { return a.invoke(ctx, "noop-nodejs") })
	r := Row{ID: "5.resume", Scenario: fmt.Sprintf("resume from paused, nodejs (idle %s, grace %s)", b.p.pauseWait, b.p.pauseGrace),
		Summary: res.summary(), Floor: floorIdle, RatioOf: "p50", Target: targetResume}
	r.Rate = 0
	finish(&r, res)
	return r
}

// idleSamples times n calls of fn, each after wait of idleness.
func idleSamples(ctx context.Context, n int, wait time.Duration, fn op) loadResult {
	var res loadResult
	t0 := time.Now()
	for i := range n {
		time.Sleep(wait)
		s := time.Now()
		if err := fn(ctx, 0, i); err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		res.lat = append(res.lat, time.Since(s))
	}
	res.wall = time.Since(t0)
	return res
}

// coldRow: a new action per sample (created before the clock starts),
// invoked blocking once after wait; a sample whose record has no initTime
// (not a cold start) counts as an error.
func (b *bench) coldRow(a api, id, scenario, prefix string, exec map[string]any, wait time.Duration) Row {
	var res loadResult
	for i := range b.p.coldN {
		name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), i)
		if err := a.putAction(b.ctx, name, exec); err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		time.Sleep(wait)
		s := time.Now()
		rec, err := a.invokeRecord(b.ctx, name)
		d := time.Since(s)
		switch {
		case err != nil:
		case !rec.Response.Success:
			err = fmt.Errorf("activation %s failed", rec.ActivationID)
		case !rec.cold():
			err = fmt.Errorf("activation %s has no initTime: not a cold start", rec.ActivationID)
		}
		if err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		res.lat = append(res.lat, d)
	}
	r := Row{ID: id, Scenario: scenario, Summary: res.summary()}
	finish(&r, res)
	return r
}

// waitCount polls the namespace's record count since sinceMs until it
// reaches want; it returns the time from t0 to the poll that saw it.
func waitCount(ctx context.Context, a api, sinceMs int64, want int, t0 time.Time, poll, limit time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(limit)
	for {
		n, err := a.count(ctx, sinceMs)
		if err != nil {
			return 0, err
		}
		if n >= want {
			return time.Since(t0), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d records after %s", n, want, limit)
		}
		time.Sleep(poll)
	}
}

// fanoutRows: a trigger with fanout rules (to the distinct actions, warm
// but paused between fires); the fire's accept latency, and the time until
// every rule's activation (and the trigger's) is recorded.
func (b *bench) fanoutRows(a api, action func(int) string) {
	ctx := b.ctx
	if err := a.putTrigger(ctx, "fan"); err != nil {
		b.fail("7", "create trigger", err)
		return
	}
	for i := range b.p.fanout {
		if err := a.putRule(ctx, fmt.Sprintf("fan-%03d", i), "fan", action(i)); err != nil {
			b.fail("7", "create rules", err)
			return
		}
	}
	var acc, done loadResult
	for i := range b.p.fires + 1 { // the first fire warms up
		time.Sleep(b.p.pauseWait)
		since := time.Now().UnixMilli()
		t0 := time.Now()
		err := a.fire(ctx, "fan")
		d := time.Since(t0)
		var all time.Duration
		if err == nil {
			all, err = waitCount(ctx, a, since, b.p.fanout+1, t0, time.Millisecond, 30*time.Second)
		}
		if i == 0 {
			continue
		}
		if err != nil {
			acc.errs++
			acc.firstErr = err
			continue
		}
		acc.lat = append(acc.lat, d)
		done.lat = append(done.lat, all)
	}
	r := Row{ID: "7.accept", Scenario: fmt.Sprintf("trigger fire → %d rules: accept", b.p.fanout), Summary: acc.summary(),
		Floor: floorHop1, RatioOf: "p50", Target: targetAccept}
	r.Rate = 0
	finish(&r, acc)
	b.add(r)
	done.errs, done.firstErr = acc.errs, acc.firstErr
	r = Row{ID: "7.recorded", Scenario: fmt.Sprintf("trigger fire → %d rules: all recorded", b.p.fanout), Summary: done.summary(),
		Floor: floorFanout, RatioOf: "p50", Target: targetFanout,
		Note: "time from the fire to the count of records (rules + trigger) reaching fanout+1, polled every 1 ms"}
	finish(&r, done)
	b.add(r)
}

// asyncRows: non-blocking accept latency and rate; the rate at which
// their records become visible; durable record writes in the store.
func (b *bench) asyncRows(a api, g *gowhisk) {
	ctx := b.ctx
	since := time.Now().UnixMilli()
	t0 := time.Now()
	stop := b.prof.start(g.pid(), "6.accept")
	res := runLoad(ctx, 16, 0, b.p.asyncN, func(ctx context.Context, _, _ int) error { return a.invokeAsync(ctx, "noop-nodejs") })
	stop()
	r := Row{ID: "6.accept", Scenario: "non-blocking invoke: accept (202), c=16", Summary: res.summary(), Floor: floorHop16, RatioOf: "p50"}
	finish(&r, res)
	b.add(r)

	n := len(res.lat)
	all, err := waitCount(ctx, a, since, n, t0, 5*time.Millisecond, b.p.maxWaitRecords)
	r = Row{ID: "6.records", Scenario: fmt.Sprintf("non-blocking: %d records visible", n), Floor: fmt.Sprintf(floorChain, floorChainNode, 16), RatioOf: "rate",
		Note: "rate = records / time from the first invoke until the count shows all; includes running them"}
	if err != nil {
		r.Err = err.Error()
	} else {
		r.N, r.Rate = n, float64(n)/all.Seconds()
	}
	b.add(r)

	sres, err := storeWriteRate(ctx, filepath.Join(b.work, "store"), b.p.storeN, 16)
	r = Row{ID: "6.durable", Scenario: "durable records: boltstore Put ×16 + Flush", Summary: sres.summary(), Floor: floorBolt, RatioOf: "rate", Target: targetRecords,
		Note: "latencies are of Put (queued); rate counts records committed and fsynced"}
	if err != nil {
		r.Err = err.Error()
	}
	b.add(r)
}

// coldServer runs the cold starts without a stem cell (section 4) on a
// server whose manifest has none, and the control of row 5 (it never
// pauses containers).
func (b *bench) coldServer() {
	if !b.want("4") && !b.want("5") {
		return
	}
	mf, err := b.manifest("nostem", map[string]any{"python:3.11": nil, "nodejs:20": nil})
	if err != nil {
		b.fail("4", "gowhisk standalone without stem cells", err)
		return
	}
	g, err := startGowhisk(b.ctx, b.bin, b.work, "nostem", "--runtimes", mf,
		"--pause-grace", "-1s", "--user-memory", fmt.Sprint(b.p.userMemoryMB))
	if err != nil {
		b.fail("4", "gowhisk standalone without stem cells", err)
		return
	}
	defer func() { _ = g.stop() }()
	a := api{newClient(g.apihost, g.auth, 4)}
	defer a.close()
	for _, k := range []struct {
		kind string
		exec map[string]any
	}{{"nodejs", nodeNoop}, {"python", pythonNoop}} {
		if !b.want("4") {
			break
		}
		r := b.coldRow(a, "4.cold."+k.kind, "cold start, new action, no stem cell, "+k.kind, "cold-"+k.kind, k.exec, 20*time.Millisecond)
		r.Floor, r.RatioOf, r.Target = fmt.Sprintf(floorStart, k.kind), "p50", targetCold
		b.add(r)
	}
	if b.want("5") {
		// The control of row 5: the same idle time, never paused.
		if err := a.putAction(b.ctx, "noop-nodejs", nodeNoop); err != nil {
			b.fail("5.idle", "create action", err)
			return
		}
		if err := a.invoke(b.ctx, "noop-nodejs"); err != nil {
			b.fail("5.idle", "warm action", err)
			return
		}
		r := b.resumeRow(a)
		r.ID, r.Scenario, r.Target = "5.idle", fmt.Sprintf("control: idle %s, never paused (--pause-grace -1s), nodejs", b.p.pauseWait), ""
		b.add(r)
	}
}
