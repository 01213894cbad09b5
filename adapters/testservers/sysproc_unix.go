//go:build unix && !linux

package testservers

import "syscall"

// serverProcAttr puts a server in its own process group, so stop reaches any
// children.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
