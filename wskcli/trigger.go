package wskcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/wskcli/client"
)

// Feed lifecycle events the CLI sends to a feed action.
const (
	feedCreate = "CREATE"
	feedRead   = "READ"
	feedUpdate = "UPDATE"
	feedDelete = "DELETE"
)

type triggerFlags struct {
	feed                                   string
	summary                                bool
	skip, limit                            int
	nameSort                               bool
	params, annots, feedParams, trigParams []string
	paramFile, annotFile                   string
}

func (a *app) triggerCommand() *cobra.Command {
	var f triggerFlags
	cmd := &cobra.Command{Use: "trigger", Short: "work with triggers"}
	create := &cobra.Command{Use: "create TRIGGER_NAME", Short: "create new trigger",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerCreate(ctx, args, &f)
		})}
	update := &cobra.Command{Use: "update TRIGGER_NAME", Short: "update an existing trigger, or create a trigger if it does not exist",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerUpdate(ctx, args, &f)
		})}
	for _, c := range []*cobra.Command{create, update} {
		addKVFlags(c, &f.params, &f.annots, &f.paramFile, &f.annotFile, true)
		c.Flags().StringSliceVarP(&f.feedParams, "feed-param", "F", nil, "feed parameter values in `KEY VALUE` format")
		c.Flags().StringSliceVarP(&f.trigParams, "trigger-param", "T", nil, "trigger parameter values in `KEY VALUE` format")
	}
	create.Flags().StringVarP(&f.feed, "feed", "f", "", "trigger feed `ACTION_NAME`")

	fire := &cobra.Command{Use: "fire TRIGGER_NAME [PAYLOAD]", Short: "fire trigger event",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerFire(ctx, args)
		})}
	addKVFlags(fire, &f.params, nil, &f.paramFile, nil, false)

	get := &cobra.Command{Use: "get TRIGGER_NAME [FIELD_FILTER | --summary]", Short: "get trigger",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerGet(ctx, args, &f)
		})}
	get.Flags().BoolVarP(&f.summary, "summary", "s", false, `summarize trigger details; parameters with prefix "*" are bound`)

	del := &cobra.Command{Use: "delete TRIGGER_NAME", Short: "delete trigger",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerDelete(ctx, args)
		})}
	list := &cobra.Command{Use: "list [NAMESPACE]", Short: "list all triggers",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.triggerList(ctx, args, &f)
		})}
	addListFlags(list, &f.skip, &f.limit, &f.nameSort, "triggers")
	cmd.AddCommand(create, update, fire, get, del, list)
	return cmd
}

// triggerCreate creates a trigger; with --feed it then configures the feed
// (CREATE) and deletes the trigger again if that fails.
func (a *app) triggerCreate(ctx context.Context, args []string, f *triggerFlags) error {
	qn, err := a.oneName(args, "A trigger name is required.")
	if err != nil {
		return err
	}
	name := qn.EntityName()
	params, annots, feedParams, trigParams, err := a.triggerArgs()
	if err != nil {
		return err
	}
	var put entity.TriggerPut
	var feedQN qualifiedName
	if f.feed != "" {
		if feedQN, err = a.qname(f.feed); err != nil {
			return err
		}
		fq, _ := json.Marshal(feedQN.String())
		annots = setKeyValue(annots, entity.AnnotationFeed, fq)
		feedParams = append(params, feedParams...)
		params = trigParams
	} else {
		params = append(params, trigParams...)
	}
	if len(params) > 0 {
		ps := toParams(params)
		put.Parameters = &ps
	}
	if len(annots) > 0 {
		as := toParams(annots)
		put.Annotations = &as
	}
	if _, err := a.cl.Put(ctx, qn.Namespace, client.Triggers, name, false, put); err != nil {
		return wrapError(err, "Unable to create trigger '"+name+"': %s", exitGeneral, false)
	}
	if f.feed != "" {
		if err := a.configureFeed(ctx, qn, feedQN, feedCreate, feedParams); err != nil {
			_, _ = a.cl.Delete(ctx, qn.Namespace, client.Triggers, name)
			return wrapError(err, "Unable to create trigger '"+name+"': %s", exitGeneral, false)
		}
	}
	a.out.okf("created trigger %s", a.out.bold(name))
	return nil
}

// triggerArgs returns -p, -a, -F and -T.
func (a *app) triggerArgs() (params, annots, feedParams, trigParams []keyValue, err error) {
	if params, err = a.params(); err != nil {
		return
	}
	if annots, err = a.annotations(); err != nil {
		return
	}
	if feedParams, err = keyValues(a.kv.feedParams); err != nil {
		err = paramsError("parameter", a.kv.feedParams, err)
		return
	}
	if trigParams, err = keyValues(a.kv.triggerParams); err != nil {
		err = paramsError("parameter", a.kv.triggerParams, err)
	}
	return
}

// configureFeed invokes a trigger's feed action, blocking, with a
// lifecycle event, the trigger's name and the caller's key, and prints the
// invocation as action invoke does.
func (a *app) configureFeed(ctx context.Context, trigger, feed qualifiedName, event string, params []keyValue) error {
	ns := trigger.Namespace
	if ns == entity.DefaultNamespace {
		if list, err := a.cl.Namespaces(ctx); err == nil && len(list) > 0 {
			ns = list[0]
		}
	}
	body := []keyValue{
		{"lifecycleEvent", mustJSON(event)},
		{"triggerName", mustJSON("/" + ns + "/" + trigger.EntityName())},
		{"authKey", mustJSON(a.config().Auth)},
	}
	for _, p := range params {
		body = setKeyValue(body, p.Key, p.Value)
	}
	_, resp, err := a.cl.Invoke(ctx, feed.Namespace, feed.EntityName(), paramObject(body), true, false)
	if perr := a.printInvocation(feed, true, true, resp, err); perr != nil {
		return &cliError{msg: fmt.Sprintf("Unable to configure feed '%s': %s", feed.String(), feedErrorText(perr)),
			code: exitInherited, cause: perr}
	}
	return nil
}

// feedErrorText is the message of a failed feed invocation; for an
// application error, the action's error value.
func feedErrorText(err error) string {
	var we *client.Error
	if errors.As(err, &we) && we.Kind == client.KindApplication {
		var body struct {
			Error    any `json:"error"`
			Response struct {
				Result struct {
					Error any `json:"error"`
				} `json:"result"`
			} `json:"response"`
		}
		if decodeJSON(we.Body, &body) == nil {
			if body.Response.Result.Error != nil {
				return fmt.Sprint(body.Response.Result.Error)
			}
			if body.Error != nil {
				return fmt.Sprint(body.Error)
			}
		}
	}
	return err.Error()
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// feedOf returns the feed annotation of a trigger, if any.
func feedOf(t *showTrigger) (string, bool) {
	s, ok := t.Annotations.value(entity.AnnotationFeed).(string)
	return s, ok && s != ""
}

// getTrigger reads a trigger in its printed form.
func (a *app) getTrigger(ctx context.Context, qn qualifiedName) (*showTrigger, error) {
	b, err := a.cl.Get(ctx, qn.Namespace, client.Triggers, qn.EntityName(), nil)
	if err != nil {
		return nil, err
	}
	var t showTrigger
	if err := decodeJSON(b, &t); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return &t, nil
}

// triggerUpdate updates a trigger (creating it if missing); on a feed
// trigger, parameters go to the feed (UPDATE).
func (a *app) triggerUpdate(ctx context.Context, args []string, f *triggerFlags) error {
	qn, err := a.oneName(args, "A trigger name is required.")
	if err != nil {
		return err
	}
	name := qn.EntityName()
	params, annots, feedParams, trigParams, err := a.triggerArgs()
	if err != nil {
		return err
	}
	existing, err := a.getTrigger(ctx, qn)
	if err != nil && !isNotFound(err) {
		return wrapError(err, "Unable to update trigger '"+name+"': %s", exitGeneral, false)
	}
	var put entity.TriggerPut
	if existing != nil {
		if feed, ok := feedOf(existing); ok && len(params)+len(feedParams) > 0 {
			feedQN, err := a.qname(feed)
			if err != nil {
				return err
			}
			if err := a.configureFeed(ctx, qn, feedQN, feedUpdate, append(params, feedParams...)); err != nil {
				return wrapError(err, "Unable to update trigger '"+name+"': %s", exitGeneral, false)
			}
			params = nil
			if len(annots) > 0 {
				// Annotations replace wholesale: keep the feed annotation.
				annots = setKeyValue(annots, entity.AnnotationFeed, mustJSON(feed))
			}
		}
	}
	params = append(params, trigParams...)
	if len(params) > 0 {
		ps := toParams(params)
		put.Parameters = &ps
	}
	if len(annots) > 0 {
		as := toParams(annots)
		put.Annotations = &as
	}
	if _, err := a.cl.Put(ctx, qn.Namespace, client.Triggers, name, true, put); err != nil {
		return wrapError(err, "Unable to update trigger '"+name+"': %s", exitGeneral, false)
	}
	a.out.okf("updated trigger %s", a.out.bold(name))
	return nil
}

// triggerFire fires a trigger with -p/-P and an optional JSON payload.
func (a *app) triggerFire(ctx context.Context, args []string) error {
	if err := checkArgs(args, 1, 2, "A trigger name is required. A payload is optional."); err != nil {
		return err
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	params, err := a.params()
	if err != nil {
		return err
	}
	if len(args) == 2 {
		payload, err := keyValues([]string{args[1]})
		if err != nil {
			return paramsError("parameter", args[1:], err)
		}
		for _, p := range params {
			payload = setKeyValue(payload, p.Key, p.Value)
		}
		params = payload
	}
	status, body, err := a.cl.Fire(ctx, qn.Namespace, qn.EntityName(), paramObject(params))
	if err != nil {
		return wrapError(err, "Unable to fire trigger '"+qn.EntityName()+"': %s", exitGeneral, false)
	}
	id := ""
	if status != http.StatusNoContent {
		id = activationID(body)
	}
	a.out.okf("triggered /%s/%s with id %s", a.out.bold(qn.Namespace), a.out.bold(qn.EntityName()), a.out.bold(id))
	return nil
}

// triggerGet prints a trigger; a feed trigger's feed is asked to READ.
func (a *app) triggerGet(ctx context.Context, args []string, f *triggerFlags) error {
	if err := checkArgs(args, 1, 2, "A trigger name is required."); err != nil {
		return err
	}
	field := ""
	if !f.summary && len(args) > 1 {
		field = args[1]
		if _, ok := fieldOf(showTrigger{}, field); !ok {
			return invalidField(field)
		}
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	t, err := a.getTrigger(ctx, qn)
	if err != nil {
		return wrapError(err, "Unable to get trigger '"+qn.EntityName()+"': %s", exitGeneral, false)
	}
	if feed, ok := feedOf(t); ok && !f.summary {
		if feedQN, err := a.qname(feed); err == nil {
			// A feed that cannot READ does not make the trigger unreadable.
			_ = a.configureFeed(ctx, qn, feedQN, feedRead, nil)
		}
	}
	switch {
	case f.summary:
		printEntitySummary(a.out, "trigger", fullName(t.Namespace, "", t.Name), t.Annotations,
			paramUnion(t.Annotations, t.Parameters))
	case field != "":
		a.out.okf("got trigger %s, displaying field %s", a.out.bold(qn.EntityName()), a.out.bold(field))
		v, _ := fieldOf(t, field)
		printJSON(a.out.w, v)
	default:
		a.out.okf("got trigger %s", a.out.bold(qn.EntityName()))
		printJSON(a.out.w, t)
	}
	return nil
}

// triggerDelete deletes a trigger, after its feed (DELETE) if it has one.
func (a *app) triggerDelete(ctx context.Context, args []string) error {
	qn, err := a.oneName(args, "A trigger name is required.")
	if err != nil {
		return err
	}
	name := qn.EntityName()
	t, err := a.getTrigger(ctx, qn)
	if err != nil {
		return wrapError(err, "Unable to delete trigger '"+name+"': %s", exitGeneral, false)
	}
	if feed, ok := feedOf(t); ok {
		feedQN, err := a.qname(feed)
		if err != nil {
			return err
		}
		if err := a.configureFeed(ctx, qn, feedQN, feedDelete, nil); err != nil {
			return wrapError(err, "Unable to delete trigger '"+name+"': %s", exitGeneral, false)
		}
	}
	if _, err := a.cl.Delete(ctx, qn.Namespace, client.Triggers, name); err != nil {
		return wrapError(err, "Unable to delete trigger '"+name+"': %s", exitGeneral, false)
	}
	a.out.okf("deleted trigger %s", a.out.bold(name))
	return nil
}

// triggerList prints the "triggers" table.
func (a *app) triggerList(ctx context.Context, args []string, f *triggerFlags) error {
	ns, err := a.listNamespace(args)
	if err != nil {
		return err
	}
	ts, err := a.listTriggers(ctx, ns, client.ListOptions{Limit: f.limit, Skip: f.skip})
	if err != nil {
		return wrapError(err, "Unable to obtain the list of triggers for namespace '"+displayNamespace(ns)+"': %s", exitGeneral, false)
	}
	if f.nameSort {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	}
	printTriggerList(a.out, ts)
	return nil
}

func (a *app) listTriggers(ctx context.Context, ns string, o client.ListOptions) ([]entity.TriggerSummary, error) {
	b, err := a.cl.List(ctx, ns, client.Triggers, "", o)
	if err != nil {
		return nil, err
	}
	var ts []entity.TriggerSummary
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return ts, nil
}

func printTriggerList(s stream, ts []entity.TriggerSummary) {
	fmt.Fprintln(s.w, s.bold("triggers"))
	for _, t := range ts {
		fmt.Fprintf(s.w, "%-70s %s\n", "/"+string(t.Namespace)+"/"+t.Name, "private")
	}
}

// listNamespace is the namespace of a list command's optional argument,
// which must be a namespace ("/ns"), not an entity name.
func (a *app) listNamespace(args []string) (string, error) {
	if err := checkArgs(args, 0, 1, "An optional namespace is the only valid argument."); err != nil {
		return "", err
	}
	if len(args) == 0 {
		return a.namespace(), nil
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return "", err
	}
	if qn.Name != "" {
		return "", newError("An entity name, '"+args[0]+"', was provided instead of a namespace. Valid namespaces are of the following format: /NAMESPACE.", exitGeneral, true)
	}
	return qn.Namespace, nil
}
