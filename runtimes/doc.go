// Package runtimes holds gowhisk's action runtimes: the runtimes manifest
// (runtimes.json, OpenWhisk's RUNTIMES_MANIFEST format plus a "local"
// object per kind saying how the process sandbox runs it), the language
// launchers (nodejs/launcher.js, python/launcher.py, native/launcher.py,
// embedded and written out by InstallLaunchers), and, in sub-packages, the
// Go driver of the launcher protocol (actionloop) and the HTTP action
// proxy of the runtime images (proxy, cmd/actionproxy).
//
// # Launcher protocol
//
// A launcher is a long-lived process that runs one action. It speaks the
// action-loop protocol of OpenWhisk's Go proxy, with an init step added so
// that a launcher can be started before its action is known (a stem cell):
//
//  1. The launcher is started with no action and with fd 3 open for
//     writing (a pipe to the Go side). When ready it writes {"ok":true}
//     and a newline on fd 3.
//  2. The first stdin line is
//     {"init":{"name":..,"main":..,"path":..,"env":{..}}}
//     where path is the file or directory actionloop.Prepare wrote (a
//     source file, an unzipped archive directory, or a native
//     executable), main the entry point ("main" when empty) and env the
//     /init environment (string values), which the launcher exports. The
//     launcher answers on fd 3 with {"ok":true}, or, when the action cannot
//     be loaded, writes the error to stderr, the sentinel to stdout and
//     stderr, answers `502 {"error":"<message>"}` and exits.
//  3. Every further stdin line is a /run body (container.RunRequest JSON on
//     one line). The launcher exports every top-level string key except
//     value as __OW_<KEY> (removing those of the previous activation), calls
//     main(value) (awaiting a Promise or coroutine), writes the sentinel
//     line XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX to stdout and to stderr
//     behind everything the action wrote there, and writes one answer line
//     on fd 3 only once both sentinels are out (node queues console output
//     when the log pipe is full: then the sentinels go through the same
//     streams and the answer waits for their write callbacks; with nothing
//     queued they are written to fds 1 and 2 directly). The __OW_*
//     variables whose values change with every activation stay out of the
//     C environment (setenv(3) in glibc never frees a value: a warm
//     container would grow with every activation): nodejs keeps them in an
//     overlay of process.env that child_process still passes to children;
//     python keeps the activation id, transaction id and deadline in
//     os.environ only. A process the action forks never answers: it exits
//     when its copy of main returns.
//
// An answer line is either a JSON object or array (the result; an HTTP
// proxy answers it with status 200), or a status, a space and a JSON
// object: the error answer an OpenWhisk runtime gives with that status, for
// example `502 {"error":"The action did not return a dictionary."}`.
// actionloop.ParseResult turns a line into a container.RunResult; any other
// line is status 502 {"error":"The action did not return a dictionary or
// array."}. The launcher exits when stdin closes.
//
// Per family, results and errors follow OpenWhisk's runtimes:
//
//   - nodejs (apache/openwhisk-runtime-nodejs): init failures are
//     "Initialization has failed due to: <error or stack>", the stack
//     without the launcher's frames and with paths relative to the action
//     (the source is compiled under the action's name; a syntax error reads
//     "SyntaxError: <message>\n    at <name>:<line>:<column>" and the source
//     line); a thrown exception, and an exception thrown by a callback or an
//     unhandled rejection while an activation runs, is 502 "An error has
//     occurred: <error>" (between activations they are only logged); a
//     rejected Promise is a result {"error":<serialized error>}; undefined
//     is {}; another non-object is 502 "The action did not return a
//     dictionary."; a non-object value is 403.
//   - python (apache/openwhisk-runtime-python on the Go proxy): a syntax
//     error at init is 502 with the compiler's message ("invalid syntax",
//     "expected ':'"); a failing import or a missing main is 502 "cannot
//     start action: Command exited abruptly during initialization." with
//     the traceback in the logs; an exception is a result {"error":
//     str(exception)} with the traceback on stderr; a result that is not a
//     dict or list is 502 "The action did not return a dictionary or
//     array."; when a fork failed during the activation because the pids
//     cgroup of the launcher reached its limit (a fork bomb; "max" of
//     pids.events grew), the answer is 502 "The action exhausted the process
//     limit of its container and was aborted." and the launcher exits.
//     stdout is line-buffered.
//   - native (apache/openwhisk-runtime-docker's skeleton): the executable
//     runs once per activation with the arguments as argv[1] and on stdin;
//     the last stdout line is the result (502 "The action did not return a
//     dictionary or array." when it is not an object or array).
package runtimes
