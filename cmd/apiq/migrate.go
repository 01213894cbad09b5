package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/apiq/apiq/adapters/postgres"
)

// migrateCommand is `apiq migrate up|down|version`, run as the owner role.
func migrateCommand(app *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, revert or inspect database migrations",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Create the database if missing and apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := app.setup()
			if err != nil {
				return err
			}
			return prepareDatabase(cmd.Context(), cfg, logger)
		},
	}, &cobra.Command{
		Use:   "down",
		Short: "Revert the most recent migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := app.setup()
			if err != nil {
				return err
			}
			mg, err := postgres.NewMigrator(cfg.ownerURL())
			if err != nil {
				return err
			}
			defer mg.Close()
			if err := mg.Down(); err != nil {
				return err
			}
			return printVersion(cmd, mg)
		},
	}, &cobra.Command{
		Use:   "version",
		Short: "Print the applied migration version and the binary's latest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := app.setup()
			if err != nil {
				return err
			}
			mg, err := postgres.NewMigrator(cfg.ownerURL())
			if err != nil {
				return err
			}
			defer mg.Close()
			return printVersion(cmd, mg)
		},
	})
	return cmd
}

func printVersion(cmd *cobra.Command, mg *postgres.Migrator) error {
	v, dirty, err := mg.Version()
	if err != nil {
		return err
	}
	latest, err := postgres.LatestVersion()
	if err != nil {
		return err
	}
	state := "clean"
	if dirty {
		state = "dirty (a migration failed half-way)"
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "version %d (%s); latest in this binary: %d\n", v, state, latest)
	return err
}
