//go:build !linux

package pouchdb

import "os/exec"

func setProcAttr(*exec.Cmd) {}
