package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/apiq/apiq/adapters/postgres"
	"github.com/apiq/apiq/adapters/vault"
)

func (a *app) keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the master keyring",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a fresh key-encryption key primary and re-wrap every data key under it",
		Long: "Adds a fresh KEK to the keyring file, re-wraps every live data key under it, then drops the old KEKs.\n" +
			"Other apiq processes load the keyring at start: restart them afterwards.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, logger, err := a.setup()
			if err != nil {
				return err
			}
			if cfg.MasterKey != "" {
				return errors.New("the keyring comes from APIQ_MASTER_KEY: rotate it where that secret is kept")
			}
			pool, err := postgres.Connect(cmd.Context(), cfg.DatabaseURL)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := rotateKeyring(cmd, cfg.MasterKeyFile, pool, logger)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "rotated: %d data keys re-wrapped\n", res.Rewrapped)
			return err
		},
	})
	return cmd
}

// rotateKeyring rotates the keyring file at path. The new KEK is written to
// the file before any data key is re-wrapped under it, so an interrupted
// rotation leaves a file that still opens every data key.
func rotateKeyring(cmd *cobra.Command, path string, db vault.DB, logger *slog.Logger) (vault.RotateResult, error) {
	ring, err := vault.ReadKeyringFile(path)
	if err != nil {
		return vault.RotateResult{}, err
	}
	old := ring.IDs()
	kek, err := vault.NewKEK()
	if err != nil {
		return vault.RotateResult{}, err
	}
	staged, err := vault.ReadKeyringFile(path)
	if err != nil {
		return vault.RotateResult{}, err
	}
	if err := staged.Add(kek, false); err != nil {
		return vault.RotateResult{}, err
	}
	if err := vault.WriteKeyringFile(path, staged); err != nil {
		return vault.RotateResult{}, fmt.Errorf("stage new key: %w", err)
	}
	v, err := vault.New(db, ring, vault.Options{CacheSize: -1})
	if err != nil {
		return vault.RotateResult{}, err
	}
	res, err := v.Rotate(cmd.Context(), kek)
	if err != nil {
		return res, err
	}
	for _, id := range old {
		if err := ring.Remove(id); err != nil {
			return res, err
		}
	}
	if err := vault.WriteKeyringFile(path, ring); err != nil {
		return res, fmt.Errorf("write rotated keyring: %w", err)
	}
	logger.Info("rotated the master keyring", slog.String("primary", ring.Primary()), slog.Int("rewrapped", res.Rewrapped))
	return res, nil
}
