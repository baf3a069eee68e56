package logtest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/logtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBufferIsSafeForConcurrentWritesAndReads(t *testing.T) {
	t.Parallel()
	var b logtest.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d event=x\n", i) })
		wg.Go(func() { _ = b.String() })
	}
	wg.Wait()
	assert.Len(t, b.Lines("event=x"), 8)
	assert.Len(t, b.Lines("line 3", "event=x"), 1)
	assert.Empty(t, b.Lines("event=y"))
}

func TestRecordsDecodesTheNamedEvents(t *testing.T) {
	var b logtest.Buffer
	_, _ = b.Write([]byte(`{"msg":"a.b_c","n":1}` + "\n" + `{"msg":"a.b_cd","n":2}` + "\n" + `not json "msg":"a.b_c"` + "\n"))
	got := b.Records("a.b_c")
	if len(got) != 1 || got[0]["n"] != float64(1) {
		t.Fatalf("Records(a.b_c) = %v, want the one record with n=1", got)
	}
}
