package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// env is everything the command tree takes from the process: arguments
// come separately; only cmd reads the environment, and only through Getenv.
type env struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// HomeDir returns the user's home directory (for the default data dir).
	HomeDir func() (string, error)
}

func processEnv() env {
	return env{Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr, HomeDir: os.UserHomeDir}
}

// envAnnotation marks a flag that may also be set from an environment
// variable; the value is the variable's name.
const envAnnotation = "gowhisk_env"

// usageError is a command-line usage mistake (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run executes the command line args and returns the process exit status:
// 0 on success, 2 on a usage error, 1 on any other error.
func run(ctx context.Context, args []string, e env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(e.Stderr, "gowhisk: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(e.Stderr, "Run 'gowhisk help' (or add --help to a command) for usage.")
		return 2
	}
	return 1
}

// newRootCmd builds the whole command tree.
func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "gowhisk",
		Short: "gowhisk: an Apache OpenWhisk-compatible action platform in one binary",
		Long: `gowhisk serves Apache OpenWhisk's REST API, so that the wsk CLI, .wskprops,
the official clients and OpenWhisk action code work against it.

  gowhisk standalone   run gowhisk in one process on an embedded store
  gowhisk controller   run a controller of a distributed deployment (Kafka, CouchDB)
  gowhisk invoker      run an invoker of a distributed deployment
  gowhisk admin        manage subjects, namespace keys and limits (like wskadmin)

Every flag shown with (env NAME) can also be set by that environment variable;
a flag given on the command line wins.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Bind environment variables to unset flags before any command runs.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd, e.Getenv)
		},
		Args: noSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(e.Stdout)
	root.SetErr(e.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newStandaloneCmd(e), newControllerCmd(e), newInvokerCmd(e), newAdminCmd(e))
	return root
}

// bindEnv marks flag name of fs as settable from environment variable v and
// mentions the variable in the flag's help.
func bindEnv(fs *pflag.FlagSet, name, v string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("bindEnv: no flag " + name) // programming error in this file's tree
	}
	_ = fs.SetAnnotation(name, envAnnotation, []string{v})
	f.Usage += " (env " + v + ")"
}

// applyEnv sets every flag of cmd (local and inherited) that was not given
// on the command line from its environment variable, if that is non-empty.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	var errs []error
	visit := func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if f.Changed || len(names) == 0 {
			return
		}
		v := getenv(names[0])
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, usageError{fmt.Errorf("environment variable %s=%q: %w", names[0], v, err)})
			return
		}
		f.Changed = true
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return errors.Join(errs...)
}

// defaultDataDir is $HOME/.gowhisk, or "" when there is no home directory.
func defaultDataDir(e env) string {
	if e.HomeDir == nil {
		return ""
	}
	home, err := e.HomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".gowhisk")
}

// dataDirOrErr returns dir, or a usage error if it is empty.
func dataDirOrErr(dir string) (string, error) {
	if strings.TrimSpace(dir) == "" {
		return "", usageError{errors.New("no data directory: set --data-dir or GOWHISK_DATA_DIR (there is no home directory for the default)")}
	}
	return dir, nil
}

// noSubcommand is the argument check of a command that only groups
// subcommands: any argument is an unknown command (a usage error).
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}
