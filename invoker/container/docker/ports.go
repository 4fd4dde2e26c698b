package docker

import (
	"fmt"
	"net"
	"strconv"
	"sync"
)

// PortRange is an inclusive range of 127.0.0.1 ports for the action
// proxies of containers on the host network, one port per container.
type PortRange struct {
	First, Last int
}

// ports hands out ports of a range, round robin, skipping ports in use by
// this factory and ports something else listens on.
type ports struct {
	mu    sync.Mutex
	r     PortRange
	next  int
	inUse map[int]bool
	// free reports whether nothing listens on the port (a listen probe).
	free func(port int) bool
}

func newPorts(r PortRange, free func(int) bool) *ports {
	if free == nil {
		free = probePort
	}
	return &ports{r: r, next: r.First, inUse: map[int]bool{}, free: free}
}

// get reserves a port.
func (p *ports) get() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.r.Last - p.r.First + 1
	for i := 0; i < n; i++ {
		port := p.next
		p.next++
		if p.next > p.r.Last {
			p.next = p.r.First
		}
		if p.inUse[port] || !p.free(port) {
			continue
		}
		p.inUse[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port in 127.0.0.1:%d-%d", p.r.First, p.r.Last)
}

// put releases a port.
func (p *ports) put(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, port)
}

// probePort reports whether 127.0.0.1:port can be listened on.
func probePort(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
