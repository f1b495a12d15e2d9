package alerting

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// sendBudget is how long one send, its retries included, may take: the
// group interval, so a hung receiver is given up on before the group is
// due again.
func sendBudget(r *Route) time.Duration {
	if b := time.Duration(r.GroupInterval); b > 0 {
		return b
	}
	return time.Minute
}

// send delivers n within budget, retrying a failure that may pass with
// exponential backoff and jitter, and waiting at least what the receiver
// asked (Retry-After). It gives up when the next try would come after the
// deadline.
func (d *Dispatcher) send(ctx context.Context, n *Notification, budget time.Duration) (thread string, err error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	rcv := d.opts.Receivers[n.Receiver]
	b := &backoff.ExponentialBackOff{InitialInterval: d.opts.RetryInitial, RandomizationFactor: 0.5, Multiplier: 2,
		MaxInterval: max(budget/4, d.opts.RetryInitial)}
	b.Reset()
	for {
		var retry bool
		if tr, ok := rcv.(ThreadReceiver); ok {
			thread, retry, err = tr.NotifyThread(ctx, n)
		} else {
			retry, err = rcv.Notify(ctx, n)
		}
		if err == nil || !retry {
			return thread, err
		}
		wait := b.NextBackOff()
		if ra, ok := notify.RetryAfter(err); ok && ra > wait {
			wait = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return thread, err // the next try would miss the deadline: the fallback's turn
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return thread, err
		case <-t.C:
		}
	}
}
