package wskcli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/wskcli/client"
)

func (a *app) namespaceCommand() *cobra.Command {
	var nameSort bool
	cmd := &cobra.Command{Use: "namespace", Short: "work with namespaces"}
	list := &cobra.Command{Use: "list", Short: "list available namespaces",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			if err := checkArgs(args, 0, 0, "No arguments are required."); err != nil {
				return err
			}
			ns, err := a.cl.Namespaces(ctx)
			if err != nil {
				return wrapError(err, "Unable to obtain the list of available namespaces: %s", exitGeneral, false)
			}
			fmt.Fprintln(a.out.w, a.out.bold("namespaces"))
			for _, n := range ns {
				fmt.Fprintln(a.out.w, n)
			}
			return nil
		})}
	get := &cobra.Command{Use: "get [NAMESPACE]", Short: "get triggers, actions, and rules in the registry for namespace",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.listEntities(ctx, args, nameSort)
		})}
	get.Flags().BoolVarP(&nameSort, "name-sort", "n", false, "sorts a list alphabetically by entity name; only applicable within the limit/skip returned entity block")
	cmd.AddCommand(list, get)
	return cmd
}

func (a *app) listCommand() *cobra.Command {
	var nameSort bool
	cmd := &cobra.Command{Use: "list [NAMESPACE]", Short: "list entities in the current namespace",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.listEntities(ctx, args, nameSort)
		})}
	cmd.Flags().BoolVarP(&nameSort, "name-sort", "n", false, "sorts a list alphabetically by entity name; only applicable within the limit/skip returned entity block")
	return cmd
}

// listEntities prints the packages, actions, triggers and rules of a
// namespace (wsk list, wsk namespace get).
func (a *app) listEntities(ctx context.Context, args []string, nameSort bool) error {
	ns, err := a.listNamespace(args)
	if err != nil {
		return err
	}
	all := client.ListOptions{Limit: 0}
	listErr := func(err error) error {
		return wrapError(err, "Unable to obtain the list of entities for namespace '"+displayNamespace(ns)+"': %s", exitNetwork, false)
	}
	pkgs, err := a.listPackages(ctx, ns, all)
	if err != nil {
		return listErr(err)
	}
	acts, err := a.listActions(ctx, ns, "", all)
	if err != nil {
		return listErr(err)
	}
	trigs, err := a.listTriggers(ctx, ns, all)
	if err != nil {
		return listErr(err)
	}
	rules, err := a.listRules(ctx, ns, all)
	if err != nil {
		return listErr(err)
	}
	if nameSort {
		sortActions(acts)
	}
	fmt.Fprintf(a.out.w, "Entities in namespace: %s\n", a.out.bold(displayNamespace(ns)))
	printPackageList(a.out, pkgs)
	printActionList(a.out, acts)
	printTriggerList(a.out, trigs)
	printRuleList(a.out, rules)
	return nil
}
