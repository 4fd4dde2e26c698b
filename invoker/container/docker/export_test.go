package docker

// SetPorts makes f hand out ports from start, with free as the probe of
// whether a port is free (tests simulate another process taking a port
// between the probe and the proxy's bind).
func SetPorts(f *Factory, start int, free func(port int) bool) {
	f.ports = newPorts(f.cfg.Ports, start, free)
}
