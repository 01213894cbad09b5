package testservers

import "syscall"

// serverProcAttr puts a server in its own process group, so stop reaches any
// children, and has the kernel kill it if the test binary dies first.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
