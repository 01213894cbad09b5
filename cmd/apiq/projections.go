package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// openForAdmin migrates, loads (or generates) the keys and opens the core,
// for the administrative subcommands.
func (a *app) openForAdmin(ctx context.Context) (*core, *slog.Logger, error) {
	cfg, logger, err := a.setup()
	if err != nil {
		return nil, nil, err
	}
	if err := prepareDatabase(ctx, cfg, logger); err != nil {
		return nil, nil, err
	}
	k, err := ensureKeys(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	c, err := openCore(ctx, cfg, logger, k)
	if err != nil {
		return nil, nil, err
	}
	return c, logger, nil
}

func (a *app) projectionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "Inspect and rebuild the read models",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show each projector's version, checkpoint, lag and health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			statuses, err := c.runner.Status(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSTATUS\tVERSION\tCODE VERSION\tPOSITION\tLAG\tFAILURES\tLAST ERROR")
			for _, s := range statuses {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\n",
					s.Name, s.Status, s.Version, s.CodeVersion, s.Position, s.Lag, s.Failures, s.LastError)
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use:   "rebuild NAME",
		Short: "Rebuild a read model from the events (bulk path), then switch over",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, logger, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			logger.Info("rebuilding read model", slog.String("projector", args[0]))
			if err := c.runner.Rebuild(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rebuilt %s\n", args[0])
			return err
		},
	})
	return cmd
}
