package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// plan sizes a run.
type plan struct {
	dur, warm       time.Duration // measured and warm-up time of a load row
	coldN, resumeN  int           // samples of cold-start and resume rows
	fires, fanout   int           // trigger fires; rules per trigger
	distinct        int           // distinct actions of row 3
	asyncN, storeN  int           // non-blocking invokes; store records
	stemWait        time.Duration // lets the pool replace a used stem cell
	pauseGrace      time.Duration // the server's --pause-grace
	pauseWait       time.Duration // idle time before a resume sample
	userMemoryMB    int           // the server's --user-memory
	maxWaitRecords  time.Duration // bound on waiting for records to show
	floorFanoutWarm int
}

func fullPlan() plan {
	return plan{dur: 4 * time.Second, warm: time.Second, coldN: 20, resumeN: 60, fires: 10, fanout: 100,
		distinct: 100, asyncN: 10000, storeN: 200000, stemWait: 600 * time.Millisecond,
		pauseGrace: 50 * time.Millisecond, pauseWait: 200 * time.Millisecond, userMemoryMB: 200 * 256,
		maxWaitRecords: 2 * time.Minute, floorFanoutWarm: 2}
}

func quickPlan() plan {
	p := fullPlan()
	p.dur, p.warm = 400*time.Millisecond, 200*time.Millisecond
	p.coldN, p.resumeN, p.fires = 3, 6, 2
	p.asyncN, p.storeN = 500, 10000
	p.floorFanoutWarm = 1
	p.distinct, p.fanout = 20, 20
	return p
}

// bench is one run of the harness.
type bench struct {
	ctx    context.Context
	p      plan
	work   string // temporary directory of the run
	root   string // module root
	bin    string // the gowhisk binary built for the run
	only   map[string]bool
	prof   *profiler
	log    io.Writer
	t0     time.Time
	rows   []Row
	floors map[string]Row

	nodeScript, pyScript string
	nativeExe            string
	nativeExec           map[string]any
}

// want reports whether section s (1..9) is selected.
func (b *bench) want(s string) bool { return len(b.only) == 0 || b.only[s] }

// add completes r (ratio to its floor) and records it.
func (b *bench) add(r Row) {
	if f, ok := b.floors[r.Floor]; ok && r.Skipped == "" {
		switch r.RatioOf {
		case "p50":
			r.Ratio = ratio(r.P50, f.P50)
			if r.P50 > 0 && f.P50 > 0 {
				r.OverFloor = r.P50 - f.P50
			}
		case "rate":
			r.Ratio = ratio(f.Rate, r.Rate)
		}
	}
	if r.CPU != nil && r.Rate > 0 {
		r.CPUPerOp = r.CPU.Server / r.Rate * 1e6
	}
	if strings.HasPrefix(r.ID, "9.") {
		b.floors[r.ID] = r
	}
	b.rows = append(b.rows, r)
	fmt.Fprintf(b.log, "%5.1fs", time.Since(b.t0).Seconds())
	switch {
	case r.Skipped != "":
		fmt.Fprintf(b.log, "  %-18s %-44s skipped: %s\n", r.ID, r.Scenario, r.Skipped)
	case r.Err != "":
		fmt.Fprintf(b.log, "  %-18s %-44s error: %s\n", r.ID, r.Scenario, r.Err)
	default:
		fmt.Fprintf(b.log, "  %-18s %-44s n=%d p50=%.3fms p99=%.3fms rate=%.0f/s errors=%d\n",
			r.ID, r.Scenario, r.N, r.P50, r.P99, r.Rate, r.Errors)
	}
}

// fail records a row that could not be measured.
func (b *bench) fail(id, scenario string, err error) {
	b.add(Row{ID: id, Scenario: scenario, Err: err.Error()})
}

// loadRow warms up fn at conc, then measures it for the plan's duration,
// sampling the CPU of pids (and profiling the first one with -perf).
func (b *bench) loadRow(id, scenario string, conc int, fn op, pids ...int) Row {
	b.warmUp(conc, fn, pids...)
	stop := func() string { return "" }
	if len(pids) > 0 {
		stop = b.prof.start(pids[0], id)
	}
	m := startCPU(pids...)
	res := runLoad(b.ctx, conc, b.p.dur, 0, fn)
	r := Row{ID: id, Scenario: scenario, Summary: res.summary()}
	if len(pids) > 0 {
		r.CPU = m.stop()
	}
	if p := stop(); p != "" {
		r.Note = "profile: " + p
	}
	finish(&r, res)
	return r
}

// warmUp runs fn at conc for the plan's warm-up time, repeated (up to 5
// times) while the servers' process count still grows: the measurement
// starts once the containers (or floor processes) it needs exist.
func (b *bench) warmUp(conc int, fn op, pids ...int) {
	if b.p.warm <= 0 {
		return
	}
	prev := -1
	for range 5 {
		runLoad(b.ctx, conc, b.p.warm, 0, fn)
		n := 0
		for _, p := range pids {
			n += len(descendantsCPU(p))
		}
		if n == prev || len(pids) == 0 {
			return
		}
		prev = n
	}
}

// finish notes a run's errors on r.
func finish(r *Row, res loadResult) {
	if res.firstErr == nil {
		return
	}
	if r.N == 0 {
		r.Err = res.firstErr.Error()
		return
	}
	r.Note = strings.TrimSpace(r.Note + " first error: " + res.firstErr.Error())
}

// manifest writes the repository's runtimes manifest with stem cells
// changed by edit (kind → stem cell list, nil removes them) and returns
// its path.
func (b *bench) manifest(name string, cells map[string]any) (string, error) {
	raw, err := os.ReadFile(filepath.Join(b.root, "runtimes", "runtimes.json"))
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", err
	}
	rts, _ := doc["runtimes"].(map[string]any)
	for _, fam := range rts {
		kinds, _ := fam.([]any)
		for _, k := range kinds {
			km, _ := k.(map[string]any)
			kind, _ := km["kind"].(string)
			if c, ok := cells[kind]; ok {
				if c == nil {
					delete(km, "stemCells")
				} else {
					km["stemCells"] = c
				}
			}
		}
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.work, name+"-runtimes.json")
	return path, os.WriteFile(path, out, 0o644)
}

// burst starts n calls of fn at once and returns when all returned.
func burst(ctx context.Context, n int, fn op) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	t0 := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, i, 0); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	close(errs)
	return d, <-errs
}
