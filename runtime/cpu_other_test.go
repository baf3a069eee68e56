//go:build !linux

package runtime

func threadCPU() int64 { return 0 }
