package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Floor row ids.
const (
	floorHop1      = "9.hop.c1"
	floorHop16     = "9.hop.c16"
	floorChain     = "9.chain.%s.c%d" // kind, concurrency
	floorFanout    = "9.chain.burst"
	floorStart     = "9.start.%s"
	floorBolt      = "9.bbolt"
	floorChainNode = "nodejs"
	floorIdle      = "9.chain.idle"
)

// floorRows measures section 9: the bare hop, the three-hop chain per
// kind and concurrency, a burst through the chain, interpreter starts and
// raw bbolt writes.
func (b *bench) floorRows() {
	ctx := b.ctx
	back, err := startFloorProc("-floor-role", "back", "-floor-node", b.nodeScript, "-floor-python", b.pyScript, "-floor-native", b.nativeExe)
	if err != nil {
		b.fail("9", "floor servers", err)
		return
	}
	defer back.stop()
	front, err := startFloorProc("-floor-role", "front", "-floor-next", back.addr)
	if err != nil {
		b.fail("9", "floor servers", err)
		return
	}
	defer front.stop()
	c := newClient(front.addr, "", 256)
	defer c.close()
	post := func(path string) op {
		return func(ctx context.Context, _, _ int) error {
			out, err := c.expect(ctx, 200, "POST", path, emptyArgs)
			if err == nil && strings.TrimSpace(string(out)) != "{}" {
				err = fmt.Errorf("floor %s answered %q", path, out)
			}
			return err
		}
	}
	pids := []int{front.pid(), back.pid()}
	b.add(b.loadRow(floorHop1, "floor: one bare HTTP hop, c=1", 1, post("/hop")))
	b.add(b.loadRow(floorHop16, "floor: one bare HTTP hop, c=16", 16, post("/hop")))
	for _, k := range []struct{ kind, path string }{{"nodejs", "node"}, {"python", "python"}, {"native", "native"}} {
		b.add(b.loadRow(fmt.Sprintf(floorChain, k.kind, 1), "floor: 3 hops to a "+k.kind+" process, c=1", 1, post("/chain/"+k.path), pids...))
	}
	for _, n := range []int{4, 16, 64} {
		b.add(b.loadRow(fmt.Sprintf(floorChain, floorChainNode, n), fmt.Sprintf("floor: 3 hops to nodejs, c=%d", n), n, post("/chain/node"), pids...))
	}

	// The chain's first call after idleness: the floor of rows 5.* (every
	// process on the path is woken from sleep).
	res := idleSamples(ctx, b.p.resumeN, b.p.pauseWait, post("/chain/node"))
	r := Row{ID: floorIdle, Scenario: fmt.Sprintf("floor: 3 hops to nodejs, each call after %s idle", b.p.pauseWait), Summary: res.summary()}
	r.Rate = 0
	finish(&r, res)
	b.add(r)

	// A burst of fanout requests at once through the chain (the floor of a
	// trigger fanned out to that many rules).
	fn := post("/chain/node")
	res = loadResult{}
	for i := range b.p.floorFanoutWarm + b.p.fires {
		d, err := burst(ctx, b.p.fanout, fn)
		if err != nil {
			res.errs++
			res.firstErr = err
			continue
		}
		if i >= b.p.floorFanoutWarm {
			res.lat = append(res.lat, d)
		}
	}
	r = Row{ID: floorFanout, Scenario: fmt.Sprintf("floor: %d requests at once, 3 hops to nodejs", b.p.fanout), Summary: res.summary()}
	r.Rate = 0
	finish(&r, res)
	b.add(r)

	for _, k := range []struct {
		kind string
		argv []string
	}{
		{"nodejs", []string{interpreter("nodejs:20"), b.nodeScript}}, {"python", []string{interpreter("python:3.11"), b.pyScript}},
	} {
		res := interpreterStart(ctx, k.argv, max(b.p.coldN, 5))
		r := Row{ID: fmt.Sprintf(floorStart, k.kind), Scenario: "floor: start " + k.kind + ", answer one line", Summary: res.summary()}
		r.Rate = 0
		finish(&r, res)
		b.add(r)
	}

	res, err = boltFloor(filepath.Join(b.work, "boltfloor"), b.p.storeN)
	r = Row{ID: floorBolt, Scenario: "floor: raw bbolt, 1000 records/commit, fsync", Summary: res.summary()}
	if err != nil {
		r.Err = err.Error()
	}
	r.Note = "latencies are per 1000-record transaction"
	b.add(r)
}
