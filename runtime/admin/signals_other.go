//go:build !unix

package admin

import "os"

var defaultSignals = []os.Signal{os.Interrupt}
