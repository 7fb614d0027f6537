package pgtest

import "syscall"

// procAttr runs a server program with cred (nil: as the test's own user).
// The server gets SIGINT (a fast shutdown) if the test process dies
// without its cleanup, e.g. killed by go test's -timeout.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
}
