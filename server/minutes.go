package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/dakenh/dakenh/internal/callminutes"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// The operator's command for organizations' LiveTalk call minutes, which
// belong to the server's operator (plans, bonus minutes), not to tenants:
//
//	dakenh minutes show  <organization ID>
//	dakenh minutes plan  <organization ID> <minutes>|default
//	dakenh minutes grant <organization ID> <minutes> [note…]
//
// It uses the server's configuration (DAKENH_DATABASE_URL or the data
// directory). The embedded database takes one process at a time: on SQLite
// run it while the server is stopped.

const minutesUsage = `usage:
  dakenh minutes show  <organization ID>
  dakenh minutes plan  <organization ID> <minutes>|default
  dakenh minutes grant <organization ID> <minutes> [note…]`

// errUsage is a command line the command does not take.
var errUsage = errors.New(minutesUsage)

// minutesCommand runs the minutes command of args (after "minutes") on db
// and writes the organization's balance to out.
func minutesCommand(ctx context.Context, db *database.DB, cfg Config, args []string, out io.Writer) error {
	if len(args) < 2 {
		return errUsage
	}
	org := gid.ID(args[1])
	if typ, err := gid.TypeOf(org); err != nil || typ != "Organization" {
		return fmt.Errorf("%q is not an organization ID", args[1])
	}
	tenancy.Guard(db.Client)
	svc := callminutes.New(db.Client, callminutes.Options{DefaultQuota: cfg.CallMinutesQuota})
	var b *callminutes.Balance
	var err error
	switch {
	case args[0] == "show" && len(args) == 2:
		b, err = svc.Get(viewer.SystemContext(ctx, org))
	case args[0] == "plan" && len(args) == 3 && args[2] == "default":
		b, err = svc.SetPlan(ctx, org, nil)
	case args[0] == "plan" && len(args) == 3:
		n, perr := strconv.Atoi(args[2])
		if perr != nil {
			return fmt.Errorf("%q is not a number of minutes", args[2])
		}
		b, err = svc.SetPlan(ctx, org, &n)
	case args[0] == "grant" && len(args) >= 3:
		n, perr := strconv.Atoi(args[2])
		if perr != nil {
			return fmt.Errorf("%q is not a number of minutes", args[2])
		}
		b, err = svc.Grant(ctx, org, n, strings.Join(args[3:], " "))
	default:
		return errUsage
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s %s: quota %d, bonus %d, used %d, remaining %d, resets %s\n",
		org, b.Month, b.QuotaMinutes, b.BonusMinutes, b.UsedMinutes, b.RemainingMinutes, b.ResetsAt.Format("2006-01-02T15:04:05Z07:00"))
	return err
}

// runMinutes opens the database of cfg (migrating it, as the server does)
// and runs the minutes command; it returns the process's exit status.
func runMinutes(cfg Config, logger *slog.Logger, args []string) int {
	ctx := context.Background()
	db, err := database.Open(ctx, database.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		logger.Error("opening database", "err", err)
		return 1
	}
	defer db.Close()
	if err := minutesCommand(ctx, db, cfg, args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}
