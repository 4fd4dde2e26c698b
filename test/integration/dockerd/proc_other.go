//go:build !linux

package dockerd

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}

func unmountUnder(dir string) {}
