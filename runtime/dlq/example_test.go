package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// What generated code does for
//
//	//baldur:protect dlq
//	Charge(ctx context.Context, orderID string, cents int64) error
func Example() {
	st := store.NewMemory()
	defer st.Close()
	q, _ := dlq.New(st, dlq.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ReplayRate: -1})
	defer q.Close()

	// The generated argument record and the signature hash of the method.
	type chargeArgs struct {
		OrderID string `json:"orderID"`
		Cents   int64  `json:"cents"`
	}
	const sig = "e3b0c442"

	// At construction: the typed replayer, which calls the wrapper again.
	charge := func(ctx context.Context, orderID string, cents int64) error {
		fmt.Println("charging", orderID, cents)
		return nil
	}
	q.Register("payments", "Charge", sig, func(ctx context.Context, raw []byte) error {
		var a chargeArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return dlq.Undecodable(err)
		}
		return charge(ctx, a.OrderID, a.Cents)
	})

	// On the failure path, after the last attempt.
	args, _ := json.Marshal(chargeArgs{OrderID: "o-42", Cents: 1999})
	id, err := q.Park(context.Background(), dlq.Capture{Domain: "payments", Method: "Charge", Signature: sig,
		Args: args, Err: errors.New("processor unavailable"), Attempts: 3})
	if errors.Is(err, dlq.ErrFull) {
		fmt.Println("not parked:", err)
	}

	// Later, from the admin API, the CLI or the breaker closing.
	e, _ := q.Replay(context.Background(), id)
	fmt.Println(e.State, e.Reason)
	// Output:
	// charging o-42 1999
	// resolved replay 1 succeeded
}
