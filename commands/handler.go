package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/apiq/apiq/domain"
)

// Handler handles one command type C and returns its result R.
type Handler[C, R any] interface {
	Handle(ctx context.Context, meta Meta, cmd C) (R, error)
}

// observed wraps every handler: it completes the request metadata, logs one
// line per command (never the command's payload, which may hold secrets)
// and reports the duration.
type observed[C, R any] struct {
	name    string
	inner   Handler[C, R]
	logger  *slog.Logger
	observe func(string, time.Duration, error)
}

func decorate[C, R any](name string, inner Handler[C, R], d Deps) Handler[C, R] {
	return observed[C, R]{name: name, inner: inner, logger: d.Logger, observe: d.Observe}
}

func (o observed[C, R]) Handle(ctx context.Context, meta Meta, cmd C) (R, error) {
	meta = meta.withDefaults()
	start := time.Now()
	res, err := o.inner.Handle(ctx, meta, cmd)
	took := time.Since(start)
	attrs := []slog.Attr{
		slog.String("command", o.name),
		slog.String("tenant_id", meta.TenantID),
		slog.String("actor", meta.Actor.Subject),
		slog.String("request_id", meta.RequestID),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	}
	level := slog.LevelInfo
	if err != nil {
		// A refusal by the rules is business as usual; anything else is not.
		var refused *domain.Error
		if !errors.As(err, &refused) {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	o.logger.LogAttrs(ctx, level, "command handled", attrs...)
	if o.observe != nil {
		o.observe(o.name, took, err)
	}
	return res, err
}
