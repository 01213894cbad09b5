package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// errReconcileDiffers makes `apiq audit reconcile` exit with status 1.
var errReconcileDiffers = errors.New("read models differ from a rebuild from the events")

func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify the audit trail's hash chains, reconcile read models, sign chain heads",
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every tenant's audit hash chain from the events and check the audit rows and signed heads (exit status 1 when broken)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			tenant, _ := cmd.Flags().GetString("tenant")
			v, err := c.audit.verify(cmd.Context(), tenant, !cmd.Flags().Changed("tenant"))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TENANT\tCHECKED\tPENDING\tPRUNED\tSIGNED HEADS\tRESULT")
			for _, t := range v.Tenants {
				result := "ok"
				if t.Broken != nil {
					result = fmt.Sprintf("BROKEN at row %d: %s (%s)", t.Broken.Sequence, t.Broken.Reason, t.Broken.Detail)
				}
				fmt.Fprintf(w, "%q\t%d\t%d\t%d\t%d\t%s\n", t.TenantID, t.Checked, t.Pending, t.Pruned, t.SignedHeads, result)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: %t (%d events checked, %d pending, %d rows pruned by retention, %d signed heads)\n",
				v.Valid, v.Checked, v.Pending, v.Pruned, v.SignedHeads)
			if !v.Valid {
				return fmt.Errorf("%w: %s", errAuditBroken, v.FirstBroken)
			}
			return nil
		},
	}
	verify.Flags().String("tenant", "", "verify this tenant's chain only (all tenants when absent)")

	reconcile := &cobra.Command{
		Use:   "reconcile [PROJECTOR...]",
		Short: "Rebuild read models from the events into scratch schemas and compare them with the live ones (exit status 1 when any differs)",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			results, err := c.runner.Reconcile(cmd.Context(), args...)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROJECTOR\tTABLE\tLIVE ROWS\tREBUILT ROWS\tONLY LIVE\tONLY REBUILT\tEXAMPLES")
			var differing []string
			for _, r := range results {
				if r.Differs() {
					differing = append(differing, r.Projector)
				}
				switch {
				case r.NotBuilt:
					fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\tnever built\n", r.Projector)
					continue
				case r.LiveVersion != r.CodeVersion:
					fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\tlive version %d, code version %d\n", r.Projector, r.LiveVersion, r.CodeVersion)
				}
				for _, t := range r.Tables {
					examples := strings.Join(append(append([]string{}, t.ExamplesLive...), t.ExamplesRebuilt...), " ")
					switch {
					case t.MissingLive:
						examples = "missing from the live read model"
					case t.MissingRebuilt:
						examples = "missing from the rebuild"
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Projector, t.Table, t.LiveRows, t.RebuiltRows,
						t.OnlyLive, t.OnlyRebuilt, examples)
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(differing) > 0 {
				return fmt.Errorf("%w: %s", errReconcileDiffers, strings.Join(differing, ", "))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "every read model matches a rebuild from the events (%d projectors)\n", len(results))
			return err
		},
	}

	sign := &cobra.Command{
		Use:   "sign",
		Short: "Sign and publish the head of every tenant's audit chain now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			heads, err := c.audit.signer.Sign(cmd.Context(), true)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TENANT\tROWS\tLAST EVENT\tHASH\tKEY")
			for _, h := range heads {
				fmt.Fprintf(w, "%q\t%d\t%s\t%s\t%s\n", h.TenantID, h.RowCount, h.LastEventID, h.Hash, h.KeyID)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(verify, reconcile, sign)
	return cmd
}
