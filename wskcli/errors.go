package wskcli

import (
	"errors"
	"fmt"

	"github.com/gowhisk/gowhisk/wskcli/client"
)

// Exit codes (apache/openwhisk-client-go wskerror.go). An HTTP error exits
// with its status − 256, which the OS takes modulo 256 (404 → 148).
const (
	exitOK        = 0
	exitGeneral   = 1
	exitUsage     = 2
	exitNetwork   = 3
	exitNotAllow  = 149 // "Cannot specify both --kind and --docker"
	exitTimedOut  = 202 // a blocking invoke that has not finished
	exitInherited = -1  // take the exit code of the cause
)

// cliError is an error the CLI reports: its message, exit code, whether
// "Run 'wsk --help' for usage." follows, and whether it is quiet (its
// output was already printed, e.g. an application error's result).
type cliError struct {
	msg   string
	code  int // exitInherited: from cause
	usage bool
	quiet bool
	cause error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.cause }

func newError(msg string, code int, usage bool) error {
	return &cliError{msg: msg, code: code, usage: usage}
}

// wrapError prefixes cause's message (format has one %s) keeping its exit
// code; usage is shown if requested here or by the cause.
func wrapError(cause error, format string, code int, usage bool) error {
	e := &cliError{msg: fmt.Sprintf(format, cause.Error()), code: exitInherited, usage: usage, cause: cause}
	e.usage = e.usage || showsUsage(cause)
	e.quiet = isQuiet(cause)
	if code != exitInherited && !hasExitCode(cause) {
		e.code = code
	}
	return e
}

// hasExitCode reports whether err carries an exit code of its own.
func hasExitCode(err error) bool {
	var ce *cliError
	var we *client.Error
	return errors.As(err, &ce) || errors.As(err, &we)
}

// quietError is an error whose message must not be printed (its output is
// already on the terminal) but whose exit code counts.
func quietError(cause error) error {
	return &cliError{msg: cause.Error(), code: exitInherited, quiet: true, cause: cause}
}

// ExitCode maps an error to the process exit code. It is the one place
// where errors become exit codes: 0 for nil; the code of a CLI error; 3 for
// a network failure; 202 for a blocking invoke that has not finished; the
// HTTP status − 256 (modulo 256) for an HTTP or application error; 2 for a
// usage error; 1 for anything else.
func ExitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.code != exitInherited {
			return ce.code
		}
		if ce.cause != nil {
			return ExitCode(ce.cause)
		}
		return exitGeneral
	}
	var we *client.Error
	if errors.As(err, &we) {
		switch we.Kind {
		case client.KindNetwork:
			return exitNetwork
		case client.KindAuth:
			return exitUsage
		case client.KindTimeout:
			return exitTimedOut
		}
		return (we.Status - 256) & 0xff
	}
	return exitGeneral
}

// showsUsage reports whether the usage hint follows the error message.
func showsUsage(err error) bool {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.usage
	}
	var we *client.Error
	return errors.As(err, &we) && we.Kind == client.KindAuth
}

// isQuiet reports whether the error's message is not printed.
func isQuiet(err error) bool {
	var ce *cliError
	return errors.As(err, &ce) && ce.quiet
}
