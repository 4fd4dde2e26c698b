package pool

import (
	"context"
	"errors"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// replenish starts missing stem cells while memory allows (under p.mu).
func (p *Pool) replenish() {
	if p.closed {
		return
	}
	for i := range p.stems {
		sc := &p.stems[i]
		for sc.have < sc.cell.Count && sc.fails < stemCellRetryLimit && p.usedMB+sc.cell.MemoryMB <= p.cfg.UserMemoryMB {
			e := p.newEntry(p.containerName("prewarm_"+sc.cell.Kind, ""), sc.cell.MemoryMB, i)
			sc.have++
			p.bg.Add(1)
			go p.createStemCell(e, sc.cell)
		}
	}
}

func (p *Pool) createStemCell(e *entry, sc StemCell) {
	defer p.bg.Done()
	spec := container.Spec{Name: e.name, Kind: sc.Kind, Image: sc.Image, MemoryMB: sc.MemoryMB, Env: p.cfg.Env, Labels: p.cfg.Labels}
	ctx, cancel := context.WithTimeout(p.ctx, createTimeout)
	c, err := p.f.Create(ctx, spec)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	idx := e.stemIdx
	if err != nil {
		if idx >= 0 {
			p.stems[idx].fails++
		}
		if !errors.Is(err, context.Canceled) {
			p.log.Warn("pool: stem cell creation failed", "kind", sc.Kind, "memoryMB", sc.MemoryMB, "error", err)
		}
		p.do(e, p.apply(e, evCreateFailed))
		p.changed()
		return
	}
	e.c = c
	if idx >= 0 {
		p.stems[idx].fails = 0
	}
	act := p.apply(e, evPrewarmed)
	if act != actNone {
		p.do(e, act)
		return
	}
	k := stemKey{sc.Kind, sc.MemoryMB}
	l := p.stemIdx[k]
	if l == nil {
		l = newList(inStem)
		p.stemIdx[k] = l
	}
	l.pushBack(e)
	p.prewarm.pushBack(e)
	p.changed()
}
