package dockerd

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel stop the daemon if the test process dies
// without running its cleanups (a panic or a timeout kill).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}
