package await

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func fails(fn func(t testing.TB)) string {
	f := &fatalRecorder{}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		fn(f)
	}()
	return f.msg
}

func TestRecv(t *testing.T) {
	t.Parallel()
	ch := make(chan int, 1)
	ch <- 7
	assert.Equal(t, 7, Recv(t, ch, "seven"))
	assert.Equal(t, "the answer: nothing came within 1ms",
		fails(func(t testing.TB) { recv(t, make(chan int), "the answer", time.Millisecond) }))
	closed := make(chan int)
	close(closed)
	assert.Equal(t, "the answer: the channel was closed without a value",
		fails(func(t testing.TB) { Recv(t, closed, "the answer") }))
}

func TestWaitAndDone(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	n := 0
	wg.Go(func() { n++ })
	Wait(t, &wg, "one worker")
	assert.Equal(t, 1, n)
	ran := false
	Done(t, func() { ran = true }, "a function")
	assert.True(t, ran)
	released := make(chan struct{})
	close(released)
	assert.True(t, Hold(released))
}
