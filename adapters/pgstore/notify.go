package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Cross-process wake-ups.
//
// Appends are announced with PostgreSQL NOTIFY so that feed readers in other
// processes wake without waiting for their next poll. The NOTIFY is NOT sent
// inside the append's transaction: a transaction that has notified takes a
// cluster-wide lock on the notification queue at commit, which would
// serialise every append's commit (and its fsync) behind one another. A
// small background notifier sends it instead, after appends, at most once
// per Config.NotifyInterval. The price: a reader in another process may
// learn of an append up to one interval (plus a round trip) later, and a
// notifier that is not running (or a lost notification) leaves readers to
// their fallback poll. Readers in the same process are woken at once.

// notifier remembers that appends happened since the last NOTIFY.
type notifier struct {
	pending chan struct{}
}

func newNotifier() *notifier { return &notifier{pending: make(chan struct{}, 1)} }

func (n *notifier) mark() {
	select {
	case n.pending <- struct{}{}:
	default:
	}
}

// announce wakes this process's feed readers and asks the notifier to tell
// the others.
func (s *Store) announce() {
	s.wake.Signal()
	s.notify.mark()
}

// RunNotifier sends the NOTIFYs announcing this store's appends, at most one
// per Config.NotifyInterval, until ctx ends (then it returns nil). Failures
// are logged and retried with the next append: a lost notification only
// delays readers until their next poll.
func (s *Store) RunNotifier(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.notify.pending:
		}
		if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.cfg.NotifyChannel, s.instance); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.cfg.Logger.WarnContext(ctx, "announce appends", "channel", s.cfg.NotifyChannel, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.cfg.NotifyInterval):
		}
	}
}

// Listen wakes this store's feed readers whenever another store announces
// appends on the channel, until ctx ends (then it returns nil). It holds one
// connection taken out of the pool, and reconnects after failures; after
// each (re)connection it wakes readers once, since announcements may have
// been missed meanwhile.
func (s *Store) Listen(ctx context.Context) error {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			c, err := s.pool.Acquire(ctx)
			if err != nil {
				return nil, fmt.Errorf("acquire listen connection: %w", err)
			}
			return c.Hijack(), nil
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "listen for appends", "channel", s.cfg.NotifyChannel, "error", err)
			}
		},
		ReconnectDelay: s.cfg.ReconnectDelay,
	}
	l.Handle(s.cfg.NotifyChannel, listenHandler{s})
	err := l.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("listen on %s: %w", s.cfg.NotifyChannel, err)
}

// listenHandler turns notifications into wake-ups.
type listenHandler struct{ s *Store }

// HandleNotification wakes readers for announcements of other stores; this
// store's own were announced in-process already.
func (h listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	if n.Payload != h.s.instance {
		h.s.Signal()
	}
	return nil
}

// HandleBacklog wakes readers after a (re)connection.
func (h listenHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.s.Signal()
	return nil
}
