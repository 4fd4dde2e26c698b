package wskcli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/wskcli/client"
)

// actionFlags are the flags of the action commands.
type actionFlags struct {
	exec                              execFlags
	copy, sequence                    bool
	timeout, memory, logsize, concurr int
	web, webSecure                    string
	delAnnotation                     []string
	blocking, result                  bool
	summary, url, save                bool
	saveAs                            string
	skip, limit                       int
	nameSort                          bool
	paramsHelp, annotsHelp            []string
	paramFileHelp, annotFileHelp      string
}

func (a *app) actionCommand() *cobra.Command {
	var f actionFlags
	cmd := &cobra.Command{Use: "action", Short: "work with actions"}
	create := &cobra.Command{Use: "create ACTION_NAME ACTION", Short: "create a new action",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.actionPut(ctx, c, args, &f, false)
		})}
	update := &cobra.Command{Use: "update ACTION_NAME [ACTION]", Short: "update an existing action, or create an action if it does not exist",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.actionPut(ctx, c, args, &f, true)
		})}
	for _, c := range []*cobra.Command{create, update} {
		fl := c.Flags()
		fl.BoolVar(&f.exec.native, "native", false, "treat ACTION as native action (zip file provides a compatible executable to run)")
		fl.StringVar(&f.exec.docker, "docker", "", "use provided docker image (a path on DockerHub) to run the action")
		fl.BoolVar(&f.copy, "copy", false, "treat ACTION as the name of an existing action")
		fl.BoolVar(&f.sequence, "sequence", false, "treat ACTION as comma separated sequence of actions to invoke")
		fl.StringVar(&f.exec.kind, "kind", "", "the `KIND` of the action runtime (example: swift:default, nodejs:default)")
		fl.StringVar(&f.exec.main, "main", "", "the name of the action entry point (function or fully-qualified method name when applicable)")
		fl.IntVarP(&f.timeout, "timeout", "t", 60000, "the timeout `LIMIT` in milliseconds after which the action is terminated")
		fl.IntVarP(&f.memory, "memory", "m", 256, "the maximum memory `LIMIT` in MB for the action")
		fl.IntVarP(&f.logsize, "logsize", "l", 10, "the maximum log size `LIMIT` in MB for the action")
		fl.IntVarP(&f.concurr, "concurrency", "c", 1, "the maximum intra-container concurrent activation `LIMIT` for the action")
		addKVFlags(c, &f.paramsHelp, &f.annotsHelp, &f.paramFileHelp, &f.annotFileHelp, true)
		fl.StringVar(&f.web, "web", "", "treat ACTION as a web action, a raw HTTP web action, or as a standard action; yes | true = web action, raw = raw HTTP web action, no | false = standard action")
		fl.StringVar(&f.webSecure, "web-secure", "", "secure the web action. where `SECRET` is true, false, or any string. Only valid when the ACTION is a web action")
	}
	update.Flags().StringArrayVar(&f.delAnnotation, "del-annotation", nil, "the list of annotations to be deleted from the action, e.g. --del-annotation key1 --del-annotation key2")

	invoke := &cobra.Command{Use: "invoke ACTION_NAME", Short: "invoke action",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.actionInvoke(ctx, args, &f)
		})}
	addKVFlags(invoke, &f.paramsHelp, nil, &f.paramFileHelp, nil, false)
	invoke.Flags().BoolVarP(&f.blocking, "blocking", "b", false, "blocking invoke")
	invoke.Flags().BoolVarP(&f.result, "result", "r", false, "blocking invoke; show only activation result (unless there is a failure)")

	get := &cobra.Command{Use: "get ACTION_NAME [FIELD_FILTER | --summary | --url]", Short: "get action",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.actionGet(ctx, c, args, &f)
		})}
	get.Flags().BoolVarP(&f.summary, "summary", "s", false, `summarize action details; parameters with prefix "*" are bound, "**" are bound and finalized`)
	get.Flags().BoolVarP(&f.url, "url", "r", false, "get action url")
	get.Flags().StringVar(&f.saveAs, "save-as", "", "file to save action code to")
	get.Flags().BoolVar(&f.save, "save", false, "save action code to file corresponding with action name")

	del := &cobra.Command{Use: "delete ACTION_NAME", Short: "delete action",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			qn, err := a.oneName(args, "An action name is required.")
			if err != nil {
				return err
			}
			if _, err := a.cl.Delete(ctx, qn.Namespace, client.Actions, qn.EntityName()); err != nil {
				return wrapError(err, "Unable to delete action '"+qn.EntityName()+"': %s", exitGeneral, true)
			}
			a.out.okf("deleted action %s", a.out.bold(qn.EntityName()))
			return nil
		})}

	list := &cobra.Command{Use: "list [ NAMESPACE | PACKAGE_NAME ]", Short: "list all actions in a namespace or actions contained in a package",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.actionList(ctx, args, &f)
		})}
	addListFlags(list, &f.skip, &f.limit, &f.nameSort, "actions")

	cmd.AddCommand(create, update, invoke, get, del, list)
	return cmd
}

// addKVFlags registers -p/-P (and -a/-A) for help output; their values are
// taken out of the command line before cobra parses it (preParse).
func addKVFlags(c *cobra.Command, params, annots *[]string, paramFile, annotFile *string, withAnnots bool) {
	c.Flags().StringSliceVarP(params, "param", "p", nil, "parameter values in `KEY VALUE` format")
	c.Flags().StringVarP(paramFile, "param-file", "P", "", "`FILE` containing parameter values in JSON format")
	if withAnnots {
		c.Flags().StringSliceVarP(annots, "annotation", "a", nil, "annotation values in `KEY VALUE` format")
		c.Flags().StringVarP(annotFile, "annotation-file", "A", "", "`FILE` containing annotation values in JSON format")
	}
}

// addListFlags registers -s/--skip, -l/--limit and -n/--name-sort.
func addListFlags(c *cobra.Command, skip, limit *int, nameSort *bool, what string) {
	c.Flags().IntVarP(skip, "skip", "s", 0, "exclude the first `SKIP` number of "+what+" from the result")
	c.Flags().IntVarP(limit, "limit", "l", 30, "only return `LIMIT` number of "+what+" from the collection")
	c.Flags().BoolVarP(nameSort, "name-sort", "n", false, "sorts a list alphabetically by entity name; only applicable within the limit/skip returned entity block")
}

// actionPut is action create (update false) and action update.
func (a *app) actionPut(ctx context.Context, cmd *cobra.Command, args []string, f *actionFlags, update bool) error {
	required := "An action name and code artifact are required."
	if update {
		required = "An action name is required. A code artifact is optional."
	}
	if err := checkArgs(args, 1, 2, required); err != nil {
		return err
	}
	parseErr := func(err error) error { return wrapError(err, "Invalid argument(s). %s", exitGeneral, true) }
	qn, err := a.qname(args[0])
	if err != nil {
		return parseErr(err)
	}
	name := qn.EntityName()
	var put entity.ActionPut
	if lim := limitsPut(cmd, f); lim != nil {
		put.Limits = lim
	}
	params, err := a.params()
	if err != nil {
		return parseErr(err)
	}
	annots, err := a.annotations()
	if err != nil {
		return parseErr(err)
	}
	if f.exec.kind != "" && f.exec.docker != "" {
		return parseErr(newError("Cannot specify both --kind and --docker at the same time.", exitNotAllow, false))
	}
	switch {
	case f.copy:
		if len(args) < 2 {
			return parseErr(newError(required, exitUsage, true))
		}
		src, err := a.qname(args[1])
		if err != nil {
			return parseErr(err)
		}
		b, err := a.cl.Get(ctx, src.Namespace, client.Actions, src.EntityName(), url.Values{"code": {"true"}})
		if err != nil {
			return parseErr(wrapError(err, "Unable to get action '"+src.EntityName()+"': %s", exitGeneral, true))
		}
		var existing entity.Action
		if err := json.Unmarshal(b, &existing); err != nil {
			return parseErr(newError(err.Error(), exitGeneral, false))
		}
		put.Exec = &existing.Exec
		params = append(params, fromParams(existing.Parameters)...)
		annots = append(annots, fromParams(existing.Annotations)...)
	case f.sequence:
		if len(args) < 2 {
			return parseErr(newError("An action name and code artifact are required.", exitUsage, true))
		}
		put.Exec = sequenceExec(args[1], a.namespace())
	case len(args) > 1 || f.exec.docker != "":
		artifact := ""
		var content []byte
		if len(args) > 1 {
			artifact = args[1]
			if content, err = os.ReadFile(artifact); err != nil {
				return parseErr(fileError(artifact, err))
			}
		}
		if put.Exec, err = buildExec(artifact, content, f.exec); err != nil {
			return parseErr(err)
		}
	case !update:
		return parseErr(newError("An action name and code artifact are required.", exitUsage, true))
	}
	if len(params) > 0 {
		ps := toParams(params)
		put.Parameters = &ps
	}
	if update && len(f.delAnnotation) > 0 {
		put.DelAnnotations = f.delAnnotation
	}
	annots, del, err := a.augmentWeb(ctx, cmd, qn, annots, f, update)
	if err != nil {
		return err
	}
	if len(del) > 0 {
		put.DelAnnotations = append(put.DelAnnotations, del...)
	}
	if len(annots) > 0 {
		as := toParams(annots)
		put.Annotations = &as
	}
	if _, err := a.cl.Put(ctx, qn.Namespace, client.Actions, name, update, put); err != nil {
		return wrapError(err, "Unable to create action '"+name+"': %s", exitGeneral, true)
	}
	if update {
		a.out.okf("updated action %s", a.out.bold(name))
	} else {
		a.out.okf("created action %s", a.out.bold(name))
	}
	return nil
}

// limitsPut is the limits of the flags that were given, or nil.
func limitsPut(cmd *cobra.Command, f *actionFlags) *entity.ActionLimitsPut {
	var lim entity.ActionLimitsPut
	set := false
	pick := func(flag string, v int, dst **int) {
		if cmd.Flags().Changed(flag) {
			n := v
			*dst, set = &n, true
		}
	}
	pick("timeout", f.timeout, &lim.Timeout)
	pick("memory", f.memory, &lim.Memory)
	pick("logsize", f.logsize, &lim.Logs)
	pick("concurrency", f.concurr, &lim.Concurrency)
	if !set {
		return nil
	}
	return &lim
}

// augmentWeb applies --web and --web-secure to the annotations of a put,
// carrying the existing action's web annotations forward on update. It
// returns the annotations and the annotation keys to delete.
func (a *app) augmentWeb(ctx context.Context, cmd *cobra.Command, qn qualifiedName, annots []keyValue, f *actionFlags, update bool) ([]keyValue, []string, error) {
	webSet, secureSet := cmd.Flags().Changed("web"), cmd.Flags().Changed("web-secure")
	if !webSet && !secureSet {
		return annots, nil, nil
	}
	var existing []keyValue
	exists := false
	if update {
		b, err := a.cl.Get(ctx, qn.Namespace, client.Actions, qn.EntityName(), url.Values{"code": {"false"}})
		switch {
		case err == nil:
			var act entity.Action
			if err := json.Unmarshal(b, &act); err == nil {
				existing, exists = fromParams(act.Annotations), true
			}
		case !isNotFound(err):
			return nil, nil, wrapError(err, "Unable to get action '"+qn.EntityName()+"': %s", exitGeneral, true)
		}
	}
	out := annots
	if webSet {
		base := append([]keyValue(nil), annots...)
		if len(annots) == 0 && exists {
			// Carry the existing annotations forward, except those the
			// update deletes (they would be merged back otherwise).
			for _, kv := range existing {
				if !slices.Contains(f.delAnnotation, kv.Key) {
					base = append(base, kv)
				}
			}
		}
		var err error
		if out, err = webAnnotations(f.web, base); err != nil {
			return nil, nil, err
		}
		if v, ok := getKeyValue(existing, annotWebSecure); ok {
			out = setKeyValue(out, annotWebSecure, v)
		}
	}
	if !secureSet {
		return out, nil, nil
	}
	disable := strings.EqualFold(f.web, "false") || strings.EqualFold(f.web, "no")
	if !isWeb(out) && !(exists && isWeb(existing) && !disable) {
		return nil, nil, newError("The --web-secure option is only valid when the --web option is enabled.", exitUsage, true)
	}
	if exists {
		if len(out) == 0 {
			out = append(out, existing...)
		} else {
			for _, k := range []string{annotWebExport, annotRawHTTP, annotFinal, annotWebSecure} {
				if v, ok := getKeyValue(existing, k); ok {
					if _, already := getKeyValue(out, k); !already {
						out = append(out, keyValue{k, v})
					}
				}
			}
		}
	}
	out, remove := applyWebSecure(f.webSecure, out)
	var del []string
	if remove {
		del = []string{annotWebSecure}
	}
	return out, del, nil
}

// actionInvoke invokes an action and prints the outcome as the original.
func (a *app) actionInvoke(ctx context.Context, args []string, f *actionFlags) error {
	qn, err := a.oneName(args, "An action name is required.")
	if err != nil {
		return err
	}
	params, err := a.params()
	if err != nil {
		return err
	}
	blocking := f.blocking || f.result
	_, body, err := a.cl.Invoke(ctx, qn.Namespace, qn.EntityName(), paramObject(params), blocking, f.result)
	return a.printInvocation(qn, blocking, !f.result, body, err)
}

// printInvocation prints an invoke's response: the header and (blocking)
// the JSON on stdout; a blocking invoke that has not finished and an
// application error go to stderr with their exit code.
func (a *app) printInvocation(qn qualifiedName, blocking, header bool, body []byte, err error) error {
	var we *client.Error
	switch {
	case err == nil:
		a.printInvocationMsg(a.out, qn, blocking, header, body)
		return nil
	case blocking && errors.As(err, &we) && we.Kind == client.KindTimeout:
		a.err.okf("invoked /%s/%s, but the request has not yet finished, with id %s",
			a.err.bold(qn.Namespace), a.err.bold(qn.EntityName()), a.err.bold(activationID(we.Body)))
		return quietError(err)
	case blocking && errors.As(err, &we) && we.Kind == client.KindApplication:
		a.printInvocationMsg(a.err, qn, true, header, we.Body)
		return quietError(err)
	}
	return wrapError(err, "Unable to invoke action '"+qn.EntityName()+"': %s", exitGeneral, true)
}

func (a *app) printInvocationMsg(s stream, qn qualifiedName, blocking, header bool, body []byte) {
	if header {
		s.okf("invoked /%s/%s with id %s", s.bold(qn.Namespace), s.bold(qn.EntityName()), s.bold(activationID(body)))
	}
	if blocking {
		var v any
		if decodeJSON(body, &v) != nil {
			v = string(body)
		}
		printJSON(s.w, v)
	}
}

// activationID is the "activationId" of a response body, or "".
func activationID(body []byte) string {
	var v struct {
		ID string `json:"activationId"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}

// actionGet is action get.
func (a *app) actionGet(ctx context.Context, cmd *cobra.Command, args []string, f *actionFlags) error {
	if err := checkArgs(args, 1, 2, "An action name is required."); err != nil {
		return err
	}
	field := ""
	if !f.url && !f.summary && len(args) > 1 {
		field = args[1]
		if _, ok := fieldOf(showAction{}, field); !ok {
			return invalidField(field)
		}
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	save := cmd.Flags().Changed("save") || cmd.Flags().Changed("save-as")
	b, err := a.cl.Get(ctx, qn.Namespace, client.Actions, qn.EntityName(), url.Values{"code": {fmt.Sprint(save)}})
	if err != nil {
		return wrapError(err, "Unable to get action '"+qn.EntityName()+"': %s", exitGeneral, true)
	}
	var act showAction
	if err := decodeJSON(b, &act); err != nil {
		return newError("Unable to get action '"+qn.EntityName()+"': "+err.Error(), exitGeneral, false)
	}
	switch {
	case f.url:
		a.out.okf("got action %s", a.out.bold(qn.Name))
		fmt.Fprintln(a.out.w, a.actionURL(&act, qn.Pkg))
	case f.summary:
		printEntitySummary(a.out, "action", fullName(act.Namespace, "", act.Name), act.Annotations,
			paramUnion(act.Annotations, act.Parameters))
	case save:
		return a.saveCode(&act, f.saveAs)
	case field != "":
		a.out.okf("got action %s, displaying field %s", a.out.bold(qn.EntityName()), a.out.bold(field))
		v, _ := fieldOf(act, field)
		printJSON(a.out.w, v)
	default:
		a.out.okf("got action %s", a.out.bold(qn.EntityName()))
		printJSON(a.out.w, act)
	}
	return nil
}

// actionURL is the URL of an action: its web URL when it is a web action.
func (a *app) actionURL(act *showAction, pkg string) string {
	base := a.cl.Base().String() + "/" + a.cl.APIVersion()
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	ns := esc(strings.Split(act.Namespace, "/")[0])
	if b, ok := act.Annotations.value(annotWebExport).(bool); ok && b {
		if pkg == "" {
			pkg = "default"
		}
		return base + "/web/" + ns + "/" + esc(pkg) + "/" + esc(act.Name)
	}
	if pkg == "" {
		return base + "/namespaces/" + ns + "/actions/" + esc(act.Name)
	}
	return base + "/namespaces/" + ns + "/actions/" + esc(pkg) + "/" + esc(act.Name)
}

// saveCode writes an action's code to a file (action get --save[-as]).
func (a *app) saveCode(act *showAction, filename string) error {
	if act.Exec == nil {
		return newError("Cannot save action sequences", exitUsage, true)
	}
	runtime := strings.ToLower(strings.Split(act.Exec.Kind, ":")[0])
	binary := act.Exec.Binary != nil && *act.Exec.Binary
	if runtime == kindBlackbox && act.Exec.Code == nil && !binary {
		return newError("Cannot save Docker images", exitUsage, true)
	}
	if runtime == kindSequence {
		return newError("Cannot save action sequences", exitUsage, true)
	}
	code := ""
	if act.Exec.Code != nil {
		code = *act.Exec.Code
	}
	if binary {
		dec, _ := base64.StdEncoding.DecodeString(code)
		code = string(dec)
	}
	if filename == "" {
		filename = act.Name + kindExtension(act.Exec.Kind, binary)
	}
	if _, err := os.Stat(filename); err == nil {
		return newError("The file '"+filename+"' already exists", exitUsage, true)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return newError(err.Error(), exitGeneral, false)
	}
	if err := os.WriteFile(filename, []byte(code), 0o644); err != nil {
		return newError(fmt.Sprintf("Cannot create file '%s': %v", filename, err), exitGeneral, false)
	}
	path := filename
	if !filepath.IsAbs(path) {
		wd, err := a.env.Getwd()
		if err != nil {
			return newError(err.Error(), exitGeneral, false)
		}
		path = wd + string(os.PathSeparator) + filename
	}
	a.out.okf("saved action code to %s", a.out.bold(path))
	return nil
}

// actionList is action list [NAMESPACE | PACKAGE].
func (a *app) actionList(ctx context.Context, args []string, f *actionFlags) error {
	if err := checkArgs(args, 0, 1, "An optional namespace is the only valid argument."); err != nil {
		return err
	}
	qn := qualifiedName{Namespace: a.namespace()}
	if len(args) == 1 {
		var err error
		if qn, err = a.qname(args[0]); err != nil {
			return err
		}
	}
	acts, err := a.listActions(ctx, qn.Namespace, qn.EntityName(), client.ListOptions{Limit: f.limit, Skip: f.skip})
	if err != nil {
		return wrapError(err, "Unable to obtain the list of actions for namespace '"+displayNamespace(qn.Namespace)+"': %s", exitGeneral, true)
	}
	if f.nameSort {
		sortActions(acts)
	}
	printActionList(a.out, acts)
	return nil
}

func (a *app) listActions(ctx context.Context, ns, pkg string, o client.ListOptions) ([]entity.ActionSummary, error) {
	b, err := a.cl.List(ctx, ns, client.Actions, pkg, o)
	if err != nil {
		return nil, err
	}
	var acts []entity.ActionSummary
	if err := json.Unmarshal(b, &acts); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return acts, nil
}

// sortActions sorts as the original --name-sort: actions of the default
// package first by name, then packaged ones by namespace/package and name.
func sortActions(acts []entity.ActionSummary) {
	sort.SliceStable(acts, func(i, j int) bool {
		x, y := acts[i], acts[j]
		xp, yp := strings.Contains(string(x.Namespace), "/"), strings.Contains(string(y.Namespace), "/")
		switch {
		case xp && !yp:
			return false
		case !xp && yp:
			return true
		case xp && yp:
			return strings.ToLower(string(x.Namespace)+x.Name) < strings.ToLower(string(y.Namespace)+y.Name)
		}
		return x.Name < y.Name
	})
}

// printActionList prints the "actions" table: name, private, and the kind
// from the exec annotation.
func printActionList(s stream, acts []entity.ActionSummary) {
	fmt.Fprintln(s.w, s.bold("actions"))
	for _, act := range acts {
		kind := ""
		if v, ok := act.Annotations.Get(entity.AnnotationExec); ok {
			_ = json.Unmarshal(v, &kind)
		}
		fmt.Fprintf(s.w, "%-70s %s %s\n", "/"+string(act.Namespace)+"/"+act.Name, "private", kind)
	}
}
