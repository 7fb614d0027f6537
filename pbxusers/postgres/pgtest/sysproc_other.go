//go:build !linux

package pgtest

import "syscall"

// procAttr runs a server program with cred (nil: as the test's own user).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
