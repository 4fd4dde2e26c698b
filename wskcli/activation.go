package wskcli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/wskcli/client"
)

// pollInterval is the pause between two polls of activation poll.
const pollInterval = 2 * time.Second

type activationFlags struct {
	skip, limit                      int
	full, summary, logs, last, strip bool
	since, upto                      int64
	exit                             int
	sinceSec, sinceMin, sinceHour    int
	sinceDays                        int
}

func (a *app) activationCommand() *cobra.Command {
	var f activationFlags
	cmd := &cobra.Command{Use: "activation", Short: "work with activations"}
	list := &cobra.Command{Use: "list [NAMESPACE or NAME]", Short: "list activations",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.activationList(ctx, args, &f)
		})}
	list.Flags().IntVarP(&f.skip, "skip", "s", 0, "exclude the first `SKIP` number of activations from the result")
	list.Flags().IntVarP(&f.limit, "limit", "l", 30, "only return `LIMIT` number of activations from the collection with a maximum LIMIT of 200 activations")
	list.Flags().BoolVarP(&f.full, "full", "f", false, "include full activation description")
	list.Flags().Int64Var(&f.upto, "upto", 0, "return activations with timestamps earlier than `UPTO`; measured in milliseconds since Th, 01, Jan 1970")
	list.Flags().Int64Var(&f.since, "since", 0, "return activations with timestamps later than `SINCE`; measured in milliseconds since Th, 01, Jan 1970")

	get := &cobra.Command{Use: "get (ACTIVATION_ID | --last) [FIELD_FILTER]", Short: "get activation",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.activationGet(ctx, args, &f)
		})}
	get.Flags().BoolVarP(&f.summary, "summary", "s", false, "summarize activation details")
	get.Flags().BoolVarP(&f.last, "last", "l", false, "retrieves the last activation")
	get.Flags().BoolVarP(&f.logs, "logs", "g", false, "get the logs of an activation")

	logs := &cobra.Command{Use: "logs (ACTIVATION_ID | --last)", Short: "get the logs of an activation",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			id, _, err := a.activationID(ctx, args, &f, 1, "Unable to get logs for activation: %s")
			if err != nil {
				return err
			}
			b, err := a.cl.Activation(ctx, entity.DefaultNamespace, id, "logs")
			if err != nil {
				return wrapError(err, "Unable to get logs for activation '"+id+"': %s", exitGeneral, false)
			}
			var v struct {
				Logs []string `json:"logs"`
			}
			_ = json.Unmarshal(b, &v)
			printLogs(a.out.w, v.Logs, f.strip)
			return nil
		})}
	logs.Flags().BoolVarP(&f.last, "last", "l", false, "retrieves the last activation")
	logs.Flags().BoolVarP(&f.strip, "strip", "r", false, "strip timestamp and stream information")

	result := &cobra.Command{Use: "result (ACTIVATION_ID | --last)", Short: "get the result of an activation",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			id, _, err := a.activationID(ctx, args, &f, 1, "Unable to get result for activation: %s")
			if err != nil {
				return err
			}
			b, err := a.cl.Activation(ctx, entity.DefaultNamespace, id, "result")
			if err != nil {
				return wrapError(err, "Unable to get result for activation '"+id+"': %s", exitGeneral, false)
			}
			var r showResponse
			if err := decodeJSON(b, &r); err != nil {
				return newError(err.Error(), exitGeneral, false)
			}
			printJSON(a.out.w, r.Result)
			return nil
		})}
	result.Flags().BoolVarP(&f.last, "last", "l", false, "retrieves the last activation")

	poll := &cobra.Command{Use: "poll [ NAMESPACE | ACTION_NAME ]", Short: "poll continuously for log messages from currently running actions",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.activationPoll(ctx, args, &f)
		})}
	poll.Flags().IntVarP(&f.exit, "exit", "e", 0, "stop polling after `SECONDS` seconds")
	poll.Flags().IntVar(&f.sinceSec, "since-seconds", 0, "start polling for activations `SECONDS` seconds ago")
	poll.Flags().IntVar(&f.sinceMin, "since-minutes", 0, "start polling for activations `MINUTES` minutes ago")
	poll.Flags().IntVar(&f.sinceHour, "since-hours", 0, "start polling for activations `HOURS` hours ago")
	poll.Flags().IntVar(&f.sinceDays, "since-days", 0, "start polling for activations `DAYS` days ago")
	cmd.AddCommand(list, get, logs, result, poll)
	return cmd
}

// activationID returns the id argument and the remaining arguments; with
// --last, the id of the most recent activation takes the id's place.
func (a *app) activationID(ctx context.Context, args []string, f *activationFlags, max int, lastErr string) (string, []string, error) {
	if f.last {
		acts, err := a.listActivationSummaries(ctx, entity.DefaultNamespace, client.ActivationListOptions{Limit: 1})
		if err != nil {
			return "", nil, wrapError(err, lastErr, exitGeneral, false)
		}
		if len(acts) == 0 {
			return "", nil, wrapError(newError("Activation list does not contain any activations.", exitGeneral, true), lastErr, exitGeneral, false)
		}
		args = append([]string{acts[0].ActivationID}, args...)
	}
	if err := checkArgs(args, 1, max, "An activation ID is required."); err != nil {
		return "", nil, err
	}
	return args[0], args[1:], nil
}

// activationList prints the activation table (or, with --full, records).
func (a *app) activationList(ctx context.Context, args []string, f *activationFlags) error {
	if err := checkArgs(args, 0, 1, "An optional namespace is the only valid argument."); err != nil {
		return err
	}
	ns, name := entity.DefaultNamespace, ""
	if len(args) == 1 {
		qn, err := a.qname(args[0])
		if err != nil {
			return err
		}
		ns, name = qn.Namespace, qn.EntityName()
	}
	o := client.ActivationListOptions{Name: name, Limit: f.limit, Skip: f.skip, Since: f.since, Upto: f.upto, Docs: f.full}
	listErr := func(err error) error {
		return wrapError(err, "Unable to obtain the list of activations for namespace '"+displayNamespace(ns)+"': %s", exitGeneral, false)
	}
	if f.full {
		b, err := a.cl.ListActivations(ctx, ns, o)
		if err != nil {
			return listErr(err)
		}
		var acts []showActivation
		if err := decodeJSON(b, &acts); err != nil {
			return listErr(newError(err.Error(), exitGeneral, false))
		}
		fmt.Fprintln(a.out.w, a.out.bold("activations"))
		for _, act := range acts {
			printJSON(a.out.w, act)
		}
		return nil
	}
	acts, err := a.listActivationSummaries(ctx, ns, o)
	if err != nil {
		return listErr(err)
	}
	printActivationTable(a.out, acts)
	return nil
}

func (a *app) listActivationSummaries(ctx context.Context, ns string, o client.ActivationListOptions) ([]entity.ActivationSummary, error) {
	b, err := a.cl.ListActivations(ctx, ns, o)
	if err != nil {
		return nil, err
	}
	var acts []entity.ActivationSummary
	if err := json.Unmarshal(b, &acts); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return acts, nil
}

// statusNames are the status column's names of the status codes.
var statusNames = [...]string{"success", "application error", "developer error", "internal error"}

// activationRow is one row of the activation table.
type activationRow struct {
	start    time.Time
	id       string
	kind     string
	warmth   string
	duration time.Duration
	status   string
	entity   string
}

// rowOf computes an activation's row: kind from the kind annotation
// ("unknown" without), cold when it has an initTime annotation, duration
// end − start (0 without a duration), the entity ns/name:version with long
// parts shortened in the middle.
func rowOf(s entity.ActivationSummary) activationRow {
	r := activationRow{start: time.UnixMilli(s.Start), id: s.ActivationID, kind: "unknown", warmth: "warm", status: statusNames[0]}
	if v, ok := s.Annotations.Get(entity.AnnotationKind); ok {
		var k string
		if json.Unmarshal(v, &k) == nil {
			r.kind = k
		}
	}
	if s.Annotations.Has(entity.AnnotationInitTime) {
		r.warmth = "cold"
	}
	if s.Duration != nil && *s.Duration != 0 && s.End != nil {
		r.duration = time.UnixMilli(*s.End).Sub(r.start)
	}
	if s.StatusCode > 0 && s.StatusCode < len(statusNames) {
		r.status = statusNames[s.StatusCode]
	}
	r.entity = truncateMiddle(s.Namespace, 20) + "/" + truncateMiddle(s.Name, 30) + ":" + truncateMiddle(s.Version.String(), 20)
	return r
}

// truncateMiddle shortens s to max characters with "..." in the middle.
func truncateMiddle(s string, max int) string {
	if len(s) <= max {
		return s
	}
	mid := max / 2
	upp := len(s) - mid + 3
	if max%2 != 0 {
		mid++
	}
	return s[:mid] + "..." + s[upp:]
}

// printActivationTable prints the activation list: Datetime, Activation
// ID, Kind, Start, Duration, Status, Entity; Kind and Status as wide as
// their longest value.
func printActivationTable(s stream, acts []entity.ActivationSummary) {
	rows := make([]activationRow, len(acts))
	kindW, statusW := len("Kind"), len(statusNames[0])
	for i, act := range acts {
		rows[i] = rowOf(act)
		kindW = max(kindW, len(rows[i].kind))
		statusW = max(statusW, len(rows[i].status))
	}
	kw, sw := strconv.Itoa(kindW), strconv.Itoa(statusW)
	header := fmt.Sprintf("%-19s %-32s %-"+kw+"s %-6s%-10s %-"+sw+"s %-6s", "Datetime", "Activation ID", "Kind", "Start", "Duration", "Status", "Entity")
	fmt.Fprintln(s.w, s.bold(header))
	for _, r := range rows {
		t := r.start
		fmt.Fprintf(s.w, "%d-%02d-%02d %02d:%02d:%02d %-32s %-"+kw+"s %-5s %-10v %-"+sw+"s %s\n",
			t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(),
			r.id, r.kind, r.warmth, r.duration, r.status, r.entity)
	}
}

// activationGet prints an activation, a field of it, its summary or logs.
func (a *app) activationGet(ctx context.Context, args []string, f *activationFlags) error {
	id, rest, err := a.activationID(ctx, args, f, 2, "Unable to get activation: %s")
	if err != nil {
		return err
	}
	field := ""
	if len(rest) > 0 {
		field = rest[0]
		if _, ok := fieldOf(showActivation{}, field); !ok {
			return newError(fmt.Sprintf("Invalid field filter '%s'.", field), exitGeneral, false)
		}
	}
	b, err := a.cl.Activation(ctx, entity.DefaultNamespace, id, "")
	if err != nil {
		return wrapError(err, "Unable to get activation '"+id+"': %s", exitGeneral, false)
	}
	var act showActivation
	if err := decodeJSON(b, &act); err != nil {
		return newError(err.Error(), exitGeneral, false)
	}
	switch {
	case f.summary:
		fmt.Fprintf(a.out.w, "activation result for '/%s/%s' (%s at %s)\n", act.Namespace, act.Name,
			act.Response.Status, time.Unix(act.End/1000, 0))
		printJSON(a.out.w, act.Response.Result)
	case f.logs:
		printLogs(a.out.w, act.Logs, true)
	case field != "":
		a.out.okf("got activation %s, displaying field %s", a.out.bold(id), a.out.bold(field))
		v, _ := fieldOf(act, field)
		printJSON(a.out.w, v)
	default:
		a.out.okf("got activation %s", a.out.bold(id))
		printJSON(a.out.w, act)
	}
	return nil
}

// printLogs prints log lines; strip removes the "<time> <stream>: "
// prefix of each line.
func printLogs(w io.Writer, logs []string, strip bool) {
	for _, l := range logs {
		if strip {
			l = stripLogLine(l)
		}
		fmt.Fprintln(w, l)
	}
}

// stripLogLine removes the timestamp and stream of a formatted log line
// ("2024-01-02T03:04:05.678Z  stdout: text" → "text").
func stripLogLine(l string) string {
	_, rest, ok := strings.Cut(l, " ")
	if !ok {
		return l
	}
	rest = strings.TrimLeft(rest, " ") // the time is padded to a fixed width
	for _, p := range []string{"stdout: ", "stderr: "} {
		if strings.HasPrefix(rest, p) {
			return rest[len(p):]
		}
	}
	return l
}

// activationPoll prints the logs of new activations every two seconds
// until ctx ends or --exit seconds have passed.
func (a *app) activationPoll(ctx context.Context, args []string, f *activationFlags) error {
	if err := checkArgs(args, 0, 1, "An optional namespace is the only valid argument."); err != nil {
		return err
	}
	name := ""
	if len(args) == 1 {
		name = args[0]
	}
	fmt.Fprintln(a.out.w, "Enter Ctrl-c to exit.")
	now := a.env.Now()
	var since int64
	back := time.Duration(f.sinceSec)*time.Second + time.Duration(f.sinceMin)*time.Minute +
		time.Duration(f.sinceHour)*time.Hour + time.Duration(f.sinceDays)*24*time.Hour
	if back == 0 {
		acts, err := a.listActivationSummaries(ctx, entity.DefaultNamespace, client.ActivationListOptions{Limit: 1, Docs: true})
		switch {
		case err != nil:
			since = now.Unix() * 1000
		case len(acts) > 0:
			since = acts[0].Start + 1
		}
	} else {
		since = now.Unix()*1000 - back.Milliseconds()
	}
	fmt.Fprintln(a.out.w, "Polling for activation logs")
	reported := map[string]bool{}
	for {
		if f.exit > 0 && int(a.env.Now().Sub(now).Seconds()) > f.exit {
			return nil
		}
		b, err := a.cl.ListActivations(ctx, entity.DefaultNamespace, client.ActivationListOptions{Name: name, Since: since, Docs: true})
		if err == nil {
			var acts []showActivation
			if decodeJSON(b, &acts) == nil {
				for _, act := range acts {
					if !reported[act.ActivationID] {
						fmt.Fprintf(a.out.w, "\nActivation: '%s' (%s)\n", act.Name, act.ActivationID)
						printJSON(a.out.w, act.Logs)
						reported[act.ActivationID] = true
					}
					if act.Start > since {
						since = act.Start + 1
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.out.w, "Poll terminated")
			return nil
		case <-time.After(pollInterval):
		}
	}
}
