package notify

import "sync"

// queue is a bounded FIFO of alerts that drops its oldest alert to make
// room: the newest news about a failing system is worth the most. Its lock
// guards only the ring; nothing else runs under it.
type queue struct {
	mu     sync.Mutex
	buf    []Alert
	head   int
	n      int
	closed bool
	wake   chan struct{} // a token when an alert arrives
}

func newQueue(size int) *queue {
	return &queue{buf: make([]Alert, size), wake: make(chan struct{}, 1)}
}

// push appends a; evicted reports that the oldest alert made room for it,
// and accepted is false (a not queued) once the queue is closed.
func (q *queue) push(a Alert) (evicted, accepted bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, false
	}
	if q.n == len(q.buf) {
		q.buf[q.head] = Alert{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		evicted = true
	}
	q.buf[(q.head+q.n)%len(q.buf)] = a
	q.n++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return evicted, true
}

// pop removes the oldest alert.
func (q *queue) pop() (Alert, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return Alert{}, false
	}
	a := q.buf[q.head]
	q.buf[q.head] = Alert{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return a, true
}

// close refuses later pushes and returns how many alerts were left.
func (q *queue) close() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	left := q.n
	for q.n > 0 {
		q.buf[q.head] = Alert{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
	}
	return left
}

// len is how many alerts wait.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
