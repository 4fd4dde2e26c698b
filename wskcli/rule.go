package wskcli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/wskcli/client"
)

type ruleFlags struct {
	summary, disable bool
	skip, limit      int
	nameSort         bool
}

func (a *app) ruleCommand() *cobra.Command {
	var f ruleFlags
	cmd := &cobra.Command{Use: "rule", Short: "work with rules"}
	put := func(update bool) func(context.Context, *cobra.Command, []string) error {
		return func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.rulePut(ctx, args, update)
		}
	}
	create := &cobra.Command{Use: "create RULE_NAME TRIGGER_NAME ACTION_NAME", Short: "create new rule", RunE: a.connected(put(false))}
	update := &cobra.Command{Use: "update RULE_NAME TRIGGER_NAME ACTION_NAME", Short: "update an existing rule, or create a rule if it does not exist", RunE: a.connected(put(true))}
	state := func(status, verb string) func(context.Context, *cobra.Command, []string) error {
		return func(ctx context.Context, _ *cobra.Command, args []string) error {
			qn, err := a.ruleName(args)
			if err != nil {
				return err
			}
			if _, err := a.cl.SetRuleState(ctx, qn.Namespace, qn.EntityName(), status); err != nil {
				return wrapError(err, "Unable to "+verb+" rule '"+qn.EntityName()+"': %s", exitGeneral, false)
			}
			a.out.okf("%sd rule %s", verb, a.out.bold(qn.EntityName()))
			return nil
		}
	}
	enable := &cobra.Command{Use: "enable RULE_NAME", Short: "enable rule", RunE: a.connected(state(entity.StatusActive, "enable"))}
	disable := &cobra.Command{Use: "disable RULE_NAME", Short: "disable rule", RunE: a.connected(state(entity.StatusInactive, "disable"))}
	status := &cobra.Command{Use: "status RULE_NAME", Short: "get rule status",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			qn, err := a.ruleName(args)
			if err != nil {
				return err
			}
			r, err := a.getRule(ctx, qn)
			if err != nil {
				return wrapError(err, "Unable to get status of rule '"+qn.EntityName()+"': %s", exitGeneral, false)
			}
			a.out.okf("rule %s is %s", a.out.bold(qn.EntityName()), a.out.bold(r.Status))
			return nil
		})}
	get := &cobra.Command{Use: "get RULE_NAME [FIELD_FILTER | --summary]", Short: "get rule",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.ruleGet(ctx, args, &f)
		})}
	get.Flags().BoolVarP(&f.summary, "summary", "s", false, "summarize rule details")
	del := &cobra.Command{Use: "delete RULE_NAME", Short: "delete rule",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			qn, err := a.ruleName(args)
			if err != nil {
				return err
			}
			if f.disable {
				if _, err := a.cl.SetRuleState(ctx, qn.Namespace, qn.EntityName(), entity.StatusInactive); err != nil {
					return wrapError(err, "Unable to disable rule '"+qn.EntityName()+"': %s", exitGeneral, false)
				}
			}
			if _, err := a.cl.Delete(ctx, qn.Namespace, client.Rules, qn.EntityName()); err != nil {
				return wrapError(err, "Unable to delete rule '"+qn.EntityName()+"': %s", exitGeneral, false)
			}
			a.out.okf("deleted rule %s", a.out.bold(qn.EntityName()))
			return nil
		})}
	del.Flags().BoolVar(&f.disable, "disable", false, "automatically disable rule before deleting it")
	list := &cobra.Command{Use: "list [NAMESPACE]", Short: "list all rules",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.ruleList(ctx, args, &f)
		})}
	addListFlags(list, &f.skip, &f.limit, &f.nameSort, "rules")
	cmd.AddCommand(create, update, enable, disable, status, get, del, list)
	return cmd
}

// ruleName checks for exactly one rule name argument and parses it.
func (a *app) ruleName(args []string) (qualifiedName, error) {
	return a.oneName(args, "A rule name is required.")
}

// rulePut creates (update false) or updates a rule linking a trigger to
// an action, both qualified in the default namespace ("/_/t").
func (a *app) rulePut(ctx context.Context, args []string, update bool) error {
	if err := checkArgs(args, 3, 3, "A rule, trigger and action name are required."); err != nil {
		return err
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	name := qn.EntityName()
	ns := a.namespace()
	put := entity.RulePut{Trigger: mustJSON(qualify(args[1], ns)), Action: mustJSON(qualify(args[2], ns))}
	verb := "create"
	if update {
		verb = "update"
	}
	if _, err := a.cl.Put(ctx, qn.Namespace, client.Rules, name, update, put); err != nil {
		return wrapError(err, "Unable to "+verb+" rule '"+name+"': %s", exitGeneral, false)
	}
	a.out.okf("%sd rule %s", verb, a.out.bold(name))
	return nil
}

func (a *app) getRule(ctx context.Context, qn qualifiedName) (*showRule, error) {
	b, err := a.cl.Get(ctx, qn.Namespace, client.Rules, qn.EntityName(), nil)
	if err != nil {
		return nil, err
	}
	var r showRule
	if err := decodeJSON(b, &r); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return &r, nil
}

func (a *app) ruleGet(ctx context.Context, args []string, f *ruleFlags) error {
	if err := checkArgs(args, 1, 2, "A rule name is required."); err != nil {
		return err
	}
	field := ""
	if !f.summary && len(args) > 1 {
		field = args[1]
		if _, ok := fieldOf(showRule{}, field); !ok {
			return invalidField(field)
		}
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	r, err := a.getRule(ctx, qn)
	if err != nil {
		return wrapError(err, "Unable to get rule '"+qn.EntityName()+"': %s", exitGeneral, false)
	}
	switch {
	case f.summary:
		fmt.Fprintf(a.out.w, "%s %s\n", a.out.bold("rule"), fullName(r.Namespace, "", r.Name))
		fmt.Fprintf(a.out.w, "   (%s: %s)\n", a.out.bold("status"), r.Status)
	case field != "":
		a.out.okf("got rule %s, displaying field %s", a.out.bold(qn.EntityName()), a.out.bold(field))
		v, _ := fieldOf(r, field)
		printJSON(a.out.w, v)
	default:
		a.out.okf("got rule %s", a.out.bold(qn.EntityName()))
		printJSON(a.out.w, r)
	}
	return nil
}

// ruleList prints the "rules" table with each rule's status (which the
// list itself does not carry: each rule is read).
func (a *app) ruleList(ctx context.Context, args []string, f *ruleFlags) error {
	ns, err := a.listNamespace(args)
	if err != nil {
		return err
	}
	rules, err := a.listRules(ctx, ns, client.ListOptions{Limit: f.limit, Skip: f.skip})
	if err != nil {
		return wrapError(err, "Unable to obtain the list of rules for namespace '"+displayNamespace(ns)+"': %s", exitGeneral, false)
	}
	if f.nameSort {
		sort.SliceStable(rules, func(i, j int) bool { return rules[i].Name < rules[j].Name })
	}
	printRuleList(a.out, rules)
	return nil
}

func (a *app) listRules(ctx context.Context, ns string, o client.ListOptions) ([]entity.Rule, error) {
	b, err := a.cl.List(ctx, ns, client.Rules, "", o)
	if err != nil {
		return nil, err
	}
	var rules []entity.Rule
	if err := json.Unmarshal(b, &rules); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	for i := range rules {
		if rules[i].Status == "" {
			if r, err := a.getRule(ctx, qualifiedName{Namespace: ns, Name: rules[i].Name}); err == nil {
				rules[i].Status = r.Status
			}
		}
	}
	return rules, nil
}

func printRuleList(s stream, rules []entity.Rule) {
	fmt.Fprintln(s.w, s.bold("rules"))
	for _, r := range rules {
		fmt.Fprintf(s.w, "%-70s %-20s %s\n", "/"+string(r.Namespace)+"/"+r.Name, "private", r.Status)
	}
}
