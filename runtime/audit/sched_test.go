package audit

import "runtime"

// runtimeGosched lets the pump's goroutine run between fake-clock steps.
func runtimeGosched() { runtime.Gosched() }
