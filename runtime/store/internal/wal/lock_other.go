//go:build !unix

package wal

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// Without flock the directory is not protected against a second process.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
