// Package wskcli is gowhisk's wsk: a command-line client compatible with
// Apache OpenWhisk's (same commands, flags, .wskprops, output and exit
// codes). Main runs one command line; the command tree is built per run by
// newRootCommand from an Env, with no global state.
package wskcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/wskcli/client"
)

// Env is everything a run of the CLI reads from and writes to.
type Env struct {
	Args      []string // command-line arguments without the program name
	Stdout    io.Writer
	Stderr    io.Writer
	StdoutTTY bool // colour on stdout
	StderrTTY bool // colour on stderr
	Getenv    func(string) string
	HomeDir   string
	Getwd     func() (string, error)
	HTTP      *http.Client // nil: a default client
	Now       func() time.Time
	// Version is the CLI version (property get --cliversion; User-Agent).
	Version string
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	apihost, auth, apiversion, cert, key string
	insecure, verbose, debug             bool
}

// app is the state of one run.
type app struct {
	env       Env
	kv        kvArgs
	g         globalFlags
	propsFile string
	file      *props
	out, err  stream
	cl        *client.Client
}

// Main runs the command line of env and returns the exit code. Errors are
// printed to env.Stderr as "error: ..." (with "Run 'wsk --help' for
// usage." where the original CLI prints it).
func Main(ctx context.Context, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Getwd == nil {
		env.Getwd = os.Getwd
	}
	if env.Version == "" {
		env.Version = "not set"
	}
	noColor := env.Getenv("NO_COLOR") != ""
	a := &app{env: env,
		out: stream{w: env.Stdout, color: env.StdoutTTY && !noColor},
		err: stream{w: env.Stderr, color: env.StderrTTY && !noColor}}
	err := a.run(ctx)
	a.report(err)
	return ExitCode(err)
}

func (a *app) run(ctx context.Context) error {
	rest, kv, err := preParse(a.env.Args, os.ReadFile)
	if err != nil {
		return wrapError(err, "Failed to parse arguments: %s", exitGeneral, true)
	}
	a.kv = kv
	a.propsFile = propsPath(a.env.Getenv, a.env.HomeDir)
	if a.file, err = readPropsFile(a.propsFile); err != nil {
		return newError(fmt.Sprintf("Unable to access configuration properties: Unable to read the properties file '%s': %v", a.propsFile, err), exitGeneral, true)
	}
	root := a.newRootCommand()
	root.SetArgs(rest)
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	err = root.ExecuteContext(ctx)
	if err != nil && !hasExitCode(err) {
		// cobra's own errors: unknown command, bad flag value, ...
		return newError(err.Error(), exitUsage, true)
	}
	return err
}

// report prints err as the original CLI does.
func (a *app) report(err error) {
	if err == nil {
		return
	}
	if !isQuiet(err) {
		fmt.Fprintf(a.err.w, "%s %s\n", a.err.paint("31", "error:"), err)
	}
	if showsUsage(err) {
		fmt.Fprintln(a.err.w, "Run 'wsk --help' for usage.")
	}
}

// newRootCommand builds the command tree of one run.
func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "wsk",
		Short:         "OpenWhisk cloud computing command line interface.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return newError(err.Error(), exitUsage, true)
	})
	pf := root.PersistentFlags()
	pf.BoolVarP(&a.g.verbose, "verbose", "v", false, "verbose output")
	pf.BoolVarP(&a.g.debug, "debug", "d", false, "debug level output")
	pf.StringVar(&a.g.cert, "cert", "", "client cert")
	pf.StringVar(&a.g.key, "key", "", "client key")
	pf.StringVarP(&a.g.auth, "auth", "u", "", "authorization `KEY`")
	pf.StringVar(&a.g.apihost, "apihost", "", "whisk API `HOST`")
	pf.StringVar(&a.g.apiversion, "apiversion", "", "whisk API `VERSION`")
	pf.BoolVarP(&a.g.insecure, "insecure", "i", false, "bypass certificate checking")
	root.AddCommand(
		a.actionCommand(),
		a.activationCommand(),
		a.packageCommand(),
		a.ruleCommand(),
		a.triggerCommand(),
		a.namespaceCommand(),
		a.listCommand(),
		a.propertyCommand(),
	)
	return root
}

// config is the effective configuration of this run.
func (a *app) config() config { return resolveConfig(a.file, a.env.Getenv, a.g) }

// client returns the REST client, created on first use. Its error is the
// original's "The API host is not valid" (exit 1).
func (a *app) client() (*client.Client, error) {
	if a.cl != nil {
		return a.cl, nil
	}
	c := a.config()
	if _, err := client.BaseURL(c.APIHost); err != nil {
		return nil, newError("The API host is not valid: "+err.Error(), exitGeneral, false)
	}
	cfg := client.Config{APIHost: c.APIHost, Auth: c.Auth, APIVersion: c.APIVersion, Insecure: a.g.insecure,
		CertFile: c.Cert, KeyFile: c.Key,
		UserAgent: "OpenWhisk-CLI/1.0 (" + a.env.Version + ") " + runtime.GOOS + " " + runtime.GOARCH,
		HTTP:      a.env.HTTP}
	debug := a.g.debug || a.env.Getenv("WSK_CLI_DEBUG") != ""
	if a.g.verbose || debug {
		cfg.Trace, cfg.FullTrace = a.env.Stdout, debug
	}
	cl, err := client.New(cfg)
	if err != nil {
		return nil, newError("Unable to initialize server connection: "+err.Error(), exitGeneral, true)
	}
	a.cl = cl
	return cl, nil
}

// connected wraps a RunE so that the client exists before it runs (the
// original's PreRunE SetupClientConfig).
func (a *app) connected(run func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if _, err := a.client(); err != nil {
			return err
		}
		return run(cmd.Context(), cmd, args)
	}
}

// namespace is the default namespace of names without one ("_").
func (a *app) namespace() string { return a.config().Namespace }

// qname parses a name argument in the default namespace.
func (a *app) qname(s string) (qualifiedName, error) { return parseQualifiedName(s, a.namespace()) }

// params returns the -p/-P list.
func (a *app) params() ([]keyValue, error) {
	kvs, err := keyValues(a.kv.params)
	if err != nil {
		return nil, paramsError("parameter", a.kv.params, err)
	}
	return kvs, nil
}

// annotations returns the -a/-A list.
func (a *app) annotations() ([]keyValue, error) {
	kvs, err := keyValues(a.kv.annots)
	if err != nil {
		return nil, paramsError("annotation", a.kv.annots, err)
	}
	return kvs, nil
}

// isNotFound reports whether err is an HTTP 404.
func isNotFound(err error) bool {
	var we *client.Error
	return errors.As(err, &we) && we.Kind == client.KindHTTP && we.Status == http.StatusNotFound
}
