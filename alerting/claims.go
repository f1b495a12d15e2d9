package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Claims decide which of several collectors sharing one notification log
// sends a notification: each send is claimed first, by the identity of
// the log state it follows, so of the members that see the same state one
// sends. Delivery stays at least once, never zero: a claimer that dies
// before settling loses its claim to the next member that asks.
type Claims interface {
	// Claim asks to send item (what describes it for people). A refusal
	// means another member has it. Granted, dup reports that it may have
	// been sent already (taken over from a dead claimer, or decided alone
	// while the shared state was unreachable).
	Claim(ctx context.Context, item, what string, hold time.Duration) (granted, dup bool)
	// Settle ends a granted claim: sent (and logged), or released for
	// another member to try.
	Settle(ctx context.Context, item string, sent bool)
}

// claimItem is the identity of the notification that follows log state
// prev of a group to a receiver: the log's version and last send.
// It is hashed: a group key holds any label value, and PostgreSQL's text
// no NUL.
func claimItem(receiver, key string, prev LogEntry) string {
	h := sha256.Sum256([]byte(receiver + "\x00" + key + "\x00" + strconv.FormatUint(prev.Version, 10) + "\x00" +
		strconv.FormatInt(prev.SentAt.UnixMilli(), 10)))
	return hex.EncodeToString(h[:])
}

// claim asks the claims, if any, for item; without claims every send is
// granted.
func (d *Dispatcher) claim(ctx context.Context, item, what string, r *Route) (granted, dup bool) {
	if d.opts.Claims == nil {
		return true, false
	}
	// Held through the send, its fallback and the escalation.
	return d.opts.Claims.Claim(ctx, item, what, 3*sendBudget(r)+time.Minute)
}

// settle ends a claim made by claim.
func (d *Dispatcher) settle(ctx context.Context, item string, sent bool) {
	if d.opts.Claims != nil {
		d.opts.Claims.Settle(ctx, item, sent)
	}
}
