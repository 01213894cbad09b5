package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/apiq/apiq/commands"
	"github.com/apiq/apiq/domain/user"
)

func (a *app) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Create tenants and users from the command line",
	}
	cmd.AddCommand(a.createTenantCommand(), a.createUserCommand(), a.resetTOTPCommand())
	return cmd
}

// readPassword reads one line from stdin when fromStdin, and otherwise
// generates a password (reported as generated).
func (a *app) readPassword(fromStdin bool) (password string, generated bool, err error) {
	if !fromStdin {
		return rand.Text(), true, nil
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from stdin: %w", err)
	}
	password = strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", false, errors.New("read password from stdin: empty")
	}
	return password, false, nil
}

func systemMeta(tenantID string) commands.Meta {
	return commands.Meta{TenantID: tenantID, Actor: commands.SystemActor(), RequestID: "cli-" + uuid.NewString()}
}

func (a *app) createTenantCommand() *cobra.Command {
	var name, tenantSlug, email, adminName string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create-tenant",
		Short: "Create a tenant and its first ADMIN",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, generated, err := a.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if tenantSlug == "" {
				tenantSlug = slug(name)
			}
			res, err := c.cmds.createTenant.Handle(cmd.Context(), systemMeta(""), commands.CreateTenant{
				Name: name, Slug: tenantSlug, AdminEmail: email, AdminName: adminName, AdminPassword: password,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "tenant_id:     %s\nadmin_user_id: %s\nposition:      %s\n", res.TenantID, res.AdminUserID, res.Position)
			if generated {
				fmt.Fprintf(out, "admin password (shown once): %s\n", password)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "tenant name (required)")
	cmd.Flags().StringVar(&tenantSlug, "slug", "", "tenant slug (derived from the name when empty)")
	cmd.Flags().StringVar(&email, "admin-email", "", "first ADMIN's email (required)")
	cmd.Flags().StringVar(&adminName, "admin-name", "Administrator", "first ADMIN's display name")
	cmd.Flags().BoolVar(&passwordStdin, "admin-password-stdin", false, "read the ADMIN's password from stdin instead of generating one")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("admin-email")
	return cmd
}

func (a *app) createUserCommand() *cobra.Command {
	var tenantID, email, name, role string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "create-user",
		Short: "Create a user in a tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			parsedRole, err := user.ParseRole(role)
			if err != nil {
				return err
			}
			password, generated, err := a.readPassword(passwordStdin)
			if err != nil {
				return err
			}
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.cmds.createUser.Handle(cmd.Context(), systemMeta(tenantID), commands.CreateUser{
				Email: email, Name: name, Password: password, Role: parsedRole,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "user_id:  %s\nposition: %s\n", res.UserID, res.Position)
			if generated {
				fmt.Fprintf(out, "password (shown once): %s\n", password)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&email, "email", "", "email (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name (required)")
	cmd.Flags().StringVar(&role, "role", "USER", "USER, ADMIN or AUDITOR")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin instead of generating one")
	for _, f := range []string{"tenant", "email", "name"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// resetTOTPCommand turns a user's TOTP off: the way back in for a tenant
// whose only ADMIN lost the device.
func (a *app) resetTOTPCommand() *cobra.Command {
	var tenantID, userID string
	cmd := &cobra.Command{
		Use:   "reset-totp",
		Short: "Turn a user's TOTP off (a lost device)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := a.openForAdmin(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			t, err := c.openTOTP()
			if err != nil {
				return err
			}
			res, err := t.reset.Handle(cmd.Context(), systemMeta(tenantID), commands.ResetTOTP{UserID: userID})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "position: %s\n", res.Position)
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantID, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&userID, "user", "", "user id (required)")
	for _, f := range []string{"tenant", "user"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}
