package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/report"
)

// serve keeps simulated traffic flowing through the protected payments
// service, with the processor going down for 10 s every 30 s, and the admin
// console up (BALDUR_ADMIN_ADDR, default 127.0.0.1:9090) until ctx is done or
// SIGTERM/Ctrl-C arrives. ready, if set, gets the console's URL.
func serve(ctx context.Context, cfg runtime.Config, out io.Writer, ready func(url string)) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if cfg.Breaker.RecoveryTimeout == 0 {
		cfg.Breaker.RecoveryTimeout = 5 * time.Second // short, so that the console shows probing soon
	}
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	sec, err := admin.SecurityFromEnv()
	if err != nil {
		return err
	}
	sopts, err := admin.ServerOptionsFromEnv()
	if err != nil {
		return err
	}
	reports := report.New(rt, report.Options{}) // the daily report, stored at midnight
	reports.Start()
	defer reports.Stop()
	srv, err := admin.Listen(admin.Options{Runtime: rt, Security: sec, Logger: cfg.Logger, Reports: reports}, sopts)
	if err != nil {
		return err
	}
	proc := &processor{out: io.Discard}
	gw := NewProtectedPaymentGateway(proc, rt)
	ledger := NewProtectedLedger(&books{delay: 150 * time.Millisecond}, rt)

	trafficCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { traffic(trafficCtx, proc, gw, ledger) })
	defer func() {
		stop()
		wg.Wait()
	}()
	fmt.Fprintf(out, "payments: console at %s — traffic flowing; Ctrl-C to stop\n", srv.URL())
	if ready != nil {
		ready(srv.URL())
	}
	return admin.ServeUntilSignal(ctx, srv)
}

// traffic charges an order every 50 ms and writes the ledger in bursts; the
// processor is down from second 20 to 30 of every 30.
func traffic(ctx context.Context, proc *processor, gw PaymentGateway, ledger Ledger) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		proc.setDown(time.Since(start)%(30*time.Second) >= 20*time.Second)
		_, _ = gw.Charge(ctx, fmt.Sprintf("order-%d", n), 10_00)
		if n%10 == 0 {
			_, _ = gw.Balance(ctx, "acct-7")
			for i := range 3 { // three writes at once: the bulkhead of 2 refuses one
				go func() { _ = ledger.Record(ctx, Entry{OrderID: fmt.Sprintf("order-%d-%d", n, i), Cents: 1}) }()
			}
		}
	}
}
