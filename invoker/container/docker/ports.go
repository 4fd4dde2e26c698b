package docker

import (
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"sync"
)

// PortRange is an inclusive range of 127.0.0.1 ports for the action
// proxies of containers on the host network, one port per container.
type PortRange struct {
	First, Last int
}

// portStart is where an invoker begins handing out ports of r: an offset
// by a hash of its name, so that two invokers on one host (or two test
// servers) do not probe the same ports in the same order. A port is only
// ever trusted once the container's proxy answered with its token.
func portStart(invoker string, r PortRange) int {
	n := r.Last - r.First + 1
	if n <= 1 {
		return r.First
	}
	h := fnv.New32a()
	h.Write([]byte(invoker))
	return r.First + int(h.Sum32()%uint32(n))
}

// ports hands out ports of a range, round robin from a start port,
// skipping ports in use by this factory and ports something else listens
// on. The probe is only a hint: another process may bind the port before
// the container's proxy does (Create then retries on another port).
type ports struct {
	mu    sync.Mutex
	r     PortRange
	next  int
	inUse map[int]bool
	// free reports whether nothing listens on the port (a listen probe).
	free func(port int) bool
}

func newPorts(r PortRange, start int, free func(int) bool) *ports {
	if free == nil {
		free = probePort
	}
	if start < r.First || start > r.Last {
		start = r.First
	}
	return &ports{r: r, next: start, inUse: map[int]bool{}, free: free}
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
