//go:build unix

package admin

import (
	"os"
	"syscall"
)

var defaultSignals = []os.Signal{syscall.SIGTERM, os.Interrupt}
