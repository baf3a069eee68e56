package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// The child process of TestTwoProcessesRaisingOneAlert100TimesDeliverItOnce
// reads its orders from these variables.
const (
	childEnv     = "BALDUR_NOTIFY_TEST_CHILD" // the Redis URL
	childPrefix  = "BALDUR_NOTIFY_TEST_PREFIX"
	childWebhook = "BALDUR_NOTIFY_TEST_WEBHOOK"
	childRaises  = 100
)

// raiseChild raises one alert childRaises times through a Notifier on the
// shared Redis, closes it (letting its queue drain) and prints its counts
// as JSON.
func raiseChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.OpenRedis(ctx, os.Getenv(childEnv), store.RedisOptions{Prefix: os.Getenv(childPrefix)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open redis:", err)
		return 2
	}
	defer st.Close()
	n, err := New(Config{WebhookURL: os.Getenv(childWebhook), Store: st, Cooldown: time.Hour, BurstThreshold: -1,
		DrainTimeout: 30 * time.Second, Source: "pid-" + strconv.Itoa(os.Getpid())})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: notifier:", err)
		return 2
	}
	for range childRaises {
		n.Notify(ctx, Alert{Key: "dlq_overflow:payments", Priority: Critical, Title: "DLQ payments is full"})
	}
	_ = n.Close()
	if err := json.NewEncoder(os.Stdout).Encode(nonZero(n.Counts())); err != nil {
		return 2
	}
	return 0
}

// TestTwoProcessesRaisingOneAlert100TimesDeliverItOnce starts two real
// child processes sharing a private redis-server; each raises the same
// alert 100 times at once; the webhook receives it once.
func TestTwoProcessesRaisingOneAlert100TimesDeliverItOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	hook := newReceiver(t, nil)
	exe, err := os.Executable()
	require.NoError(t, err)
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	var kids [2]*child
	for i := range kids {
		k := &child{cmd: exec.Command(exe, "-test.run=^$")}
		k.cmd.Env = append(os.Environ(), childEnv+"="+srv.URL(), childPrefix+"=fleet:", childWebhook+"="+hook.URL+"/hook")
		k.cmd.Stdout = &k.out
		var errb bytes.Buffer
		k.cmd.Stderr = &errb
		require.NoError(t, k.cmd.Start())
		await.KillAfter(t, k.cmd, "notify child "+strconv.Itoa(i))
		kids[i] = k
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %d stderr:\n%s", i, errb.String())
			}
		})
	}
	var delivered, cooldown uint64
	for i, k := range kids {
		require.NoError(t, k.cmd.Wait(), "child %d", i)
		var counts []Count
		require.NoError(t, json.Unmarshal(k.out.Bytes(), &counts), "child %d printed %q", i, k.out.String())
		for _, c := range counts {
			switch {
			case c.Outcome == OutcomeDelivered && c.Reason == string(Webhook):
				delivered += c.N
			case c.Outcome == OutcomeSuppressed && c.Reason == ReasonCooldown:
				cooldown += c.N
			default:
				t.Errorf("child %d: unexpected count %+v", i, c)
			}
		}
	}
	assert.Len(t, hook.requests(), 1, "the webhook received the alert once")
	assert.Equal(t, uint64(1), delivered)
	assert.Equal(t, uint64(2*childRaises-1), cooldown, "every other raise was suppressed by the cooldown")
}
