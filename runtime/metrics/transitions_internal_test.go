package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

// TestTransitionServicesAreCapped feeds the breaker listener 10 000
// transitions of services no local method declares (what a fleet could
// send): 50 keep their name, the rest share __other__, and a service of the
// method list keeps its own series even after the cap is full.
func TestTransitionServicesAreCapped(t *testing.T) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: store.NewMemory()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	c := NewCollector(rt, Options{})
	for i := range 10_000 {
		c.onTransition(breaker.Transition{Name: fmt.Sprintf("remote-%05d", i), From: breaker.Closed, To: breaker.Open})
	}
	c.onTransition(breaker.Transition{Name: "payments", From: breaker.Closed, To: breaker.Open})
	c.onTransition(breaker.Transition{Name: "bad\xffutf8", From: breaker.Open, To: breaker.HalfOpen})

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var (
		services = map[string]float64{}
		total    float64
	)
	for _, mf := range mfs {
		if mf.GetName() != "baldur_breaker_transitions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "service" {
					services[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
			total += m.GetCounter().GetValue()
		}
	}
	assert.Len(t, services, DefaultMaxDomains+2, "50 remote names, __other__, payments")
	assert.Equal(t, 1.0, services["payments"])
	assert.Equal(t, 1.0, services["remote-00049"])
	assert.Equal(t, 10_000.0-50+1, services[Other], "the overflow and the late bad name share __other__")
	assert.Equal(t, 10_002.0, total)
}

func TestFreeFormLabelsAreValidAndBounded(t *testing.T) {
	assert.Equal(t, "a\uFFFDb", freeForm("a\xffb"))
	long := freeForm(string(make([]byte, 1000)))
	assert.Len(t, long, maxLabelLen)
	cut := freeForm(fmt.Sprintf("%0127d", 0) + "é") // a rune cut in half is dropped
	assert.Len(t, cut, 127)
}
