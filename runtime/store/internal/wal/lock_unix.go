//go:build unix

package wal

import (
	"errors"
	"os"
	"syscall"
)

// errLocked reports that another process holds the directory.
var errLocked = errors.New("locked by another process")

// lockFile takes an exclusive advisory lock that the kernel drops when the
// process dies, so a SIGKILLed owner never leaves a stale lock behind.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
