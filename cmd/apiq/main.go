// Command apiq runs APIQ: `apiq serve` (the default) starts the HTTP API
// and the projectors; other subcommands migrate the database, inspect and
// rebuild projections, and administer tenants and users.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode)
	a := &app{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if err := a.rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "apiq:", err)
		os.Exit(1)
	}
}

// app carries the process's environment and streams to the subcommands,
// so tests can run them with their own.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer // for people: bootstrap credentials, command output
	stderr io.Writer // for machines: structured logs
}

// setup loads the configuration and the logger.
func (a *app) setup() (Config, *slog.Logger, error) {
	cfg, err := LoadConfig(a.getenv)
	if err != nil {
		return Config{}, nil, err
	}
	return cfg, newLogger(cfg, a.stderr), nil
}

func (a *app) rootCommand() *cobra.Command {
	serve := a.serveCommand()
	root := &cobra.Command{
		Use:           "apiq",
		Short:         "APIQ: an event-sourced API orchestration backend",
		Long:          "APIQ serves its HTTP API (the default command, `apiq serve`) and administers its database.\n\n" + configHelp(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          serve.RunE,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.AddCommand(serve, migrateCommand(a), a.projectionsCommand(), a.adminCommand(), a.keysCommand(), a.healthcheckCommand(),
		a.auditCommand())
	return root
}
