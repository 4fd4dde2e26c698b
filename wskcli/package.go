package wskcli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/wskcli/client"
)

type packageFlags struct {
	shared               string
	summary, overwrite   bool
	skip, limit          int
	nameSort             bool
	params, annots       []string
	paramFile, annotFile string
}

func (a *app) packageCommand() *cobra.Command {
	var f packageFlags
	cmd := &cobra.Command{Use: "package", Short: "work with packages"}
	create := &cobra.Command{Use: "create PACKAGE_NAME", Short: "create a new package",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.packagePut(ctx, c, args, &f, false)
		})}
	update := &cobra.Command{Use: "update PACKAGE_NAME", Short: "update an existing package, or create a package if it does not exist",
		RunE: a.connected(func(ctx context.Context, c *cobra.Command, args []string) error {
			return a.packagePut(ctx, c, args, &f, true)
		})}
	for _, c := range []*cobra.Command{create, update} {
		addKVFlags(c, &f.params, &f.annots, &f.paramFile, &f.annotFile, true)
		c.Flags().StringVar(&f.shared, "shared", "", "package visibility `SCOPE`; yes = shared, no = private")
	}
	bind := &cobra.Command{Use: "bind PACKAGE_NAME BOUND_PACKAGE_NAME", Short: "bind parameters to a package",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.packageBind(ctx, args, &f)
		})}
	addKVFlags(bind, &f.params, &f.annots, &f.paramFile, &f.annotFile, true)
	bind.Flags().BoolVarP(&f.overwrite, "overwrite", "o", false, "overwrite an existing binding")
	get := &cobra.Command{Use: "get PACKAGE_NAME [FIELD_FILTER | --summary]", Short: "get package",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.packageGet(ctx, args, &f)
		})}
	get.Flags().BoolVarP(&f.summary, "summary", "s", false, `summarize package details; parameters with prefix "*" are bound`)
	del := &cobra.Command{Use: "delete PACKAGE_NAME", Short: "delete package",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			qn, err := a.oneName(args, "A package name is required.")
			if err != nil {
				return err
			}
			if _, err := a.cl.Delete(ctx, qn.Namespace, client.Packages, qn.EntityName()); err != nil {
				return wrapError(err, "Unable to delete package '"+qn.EntityName()+"': %s", exitGeneral, false)
			}
			a.out.okf("deleted package %s", a.out.bold(qn.EntityName()))
			return nil
		})}
	list := &cobra.Command{Use: "list [NAMESPACE]", Short: "list all packages",
		RunE: a.connected(func(ctx context.Context, _ *cobra.Command, args []string) error {
			ns, err := a.listNamespace(args)
			if err != nil {
				return err
			}
			pkgs, err := a.listPackages(ctx, ns, client.ListOptions{Limit: f.limit, Skip: f.skip})
			if err != nil {
				return wrapError(err, "Unable to obtain the list of packages for namespace '"+displayNamespace(ns)+"': %s", exitGeneral, false)
			}
			if f.nameSort {
				sort.SliceStable(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
			}
			printPackageList(a.out, pkgs)
			return nil
		})}
	addListFlags(list, &f.skip, &f.limit, &f.nameSort, "packages")
	cmd.AddCommand(create, update, bind, get, del, list)
	return cmd
}

// sharedFlag parses --shared yes|no into publish.
func sharedFlag(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, newError("Invalid --shared argument value '"+v+"'; valid values are 'yes' or 'no'", exitUsage, true)
}

func (a *app) packagePut(ctx context.Context, cmd *cobra.Command, args []string, f *packageFlags, update bool) error {
	qn, err := a.oneName(args, "A package name is required.")
	if err != nil {
		return err
	}
	name := qn.EntityName()
	var put entity.PackagePut
	if cmd.Flags().Changed("shared") {
		pub, err := sharedFlag(f.shared)
		if err != nil {
			return err
		}
		put.Publish = &pub
	}
	if err := a.kvInto(&put.Parameters, &put.Annotations); err != nil {
		return err
	}
	if _, err := a.cl.Put(ctx, qn.Namespace, client.Packages, name, update, put); err != nil {
		if update {
			return wrapError(err, "Package update failed: %s", exitGeneral, false)
		}
		return wrapError(err, "Unable to create package '"+name+"': %s", exitGeneral, false)
	}
	if update {
		a.out.okf("updated package %s", a.out.bold(name))
	} else {
		a.out.okf("created package %s", a.out.bold(name))
	}
	return nil
}

// kvInto sets the -p and -a lists, when given.
func (a *app) kvInto(params, annots **entity.Params) error {
	ps, err := a.params()
	if err != nil {
		return err
	}
	as, err := a.annotations()
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		p := toParams(ps)
		*params = &p
	}
	if len(as) > 0 {
		p := toParams(as)
		*annots = &p
	}
	return nil
}

func (a *app) packageBind(ctx context.Context, args []string, f *packageFlags) error {
	if err := checkArgs(args, 2, 2, "A package name and binding name are required."); err != nil {
		return err
	}
	pkg, err := a.qname(args[0])
	if err != nil {
		return err
	}
	bnd, err := a.qname(args[1])
	if err != nil {
		return err
	}
	put := entity.PackagePut{Binding: &entity.Binding{Namespace: pkg.Namespace, Name: pkg.EntityName()}}
	if err := a.kvInto(&put.Parameters, &put.Annotations); err != nil {
		return err
	}
	if _, err := a.cl.Put(ctx, bnd.Namespace, client.Packages, bnd.EntityName(), f.overwrite, put); err != nil {
		return wrapError(err, "Binding creation failed: %s", exitGeneral, false)
	}
	a.out.okf("created binding %s", a.out.bold(bnd.EntityName()))
	return nil
}

func (a *app) packageGet(ctx context.Context, args []string, f *packageFlags) error {
	if err := checkArgs(args, 1, 2, "A package name is required."); err != nil {
		return err
	}
	field := ""
	if !f.summary && len(args) > 1 {
		field = args[1]
		if _, ok := fieldOf(showPackage{}, field); !ok {
			return invalidField(field)
		}
	}
	qn, err := a.qname(args[0])
	if err != nil {
		return err
	}
	b, err := a.cl.Get(ctx, qn.Namespace, client.Packages, qn.EntityName(), nil)
	if err != nil {
		return wrapError(err, "Unable to get package '"+qn.EntityName()+"': %s", exitGeneral, false)
	}
	var p showPackage
	if err := decodeJSON(b, &p); err != nil {
		return newError("Unable to get package '"+qn.EntityName()+"': "+err.Error(), exitGeneral, false)
	}
	switch {
	case f.summary:
		printPackageSummary(a.out, &p)
	case field != "":
		a.out.okf("got package %s, displaying field %s", a.out.bold(qn.EntityName()), a.out.bold(field))
		v, _ := fieldOf(p, field)
		printJSON(a.out.w, v)
	default:
		a.out.okf("got package %s", a.out.bold(qn.EntityName()))
		printJSON(a.out.w, p)
	}
	return nil
}

func printPackageSummary(s stream, p *showPackage) {
	printEntitySummary(s, "package", fullName(p.Namespace, p.Name, ""), p.Annotations, paramUnion(p.Annotations, p.Parameters))
	for _, act := range p.Actions {
		printEntitySummary(s, " action", fullName(p.Namespace, p.Name, act.Name), act.Annotations, paramUnion(act.Annotations, act.Parameters))
	}
	for _, feed := range p.Feeds {
		printEntitySummary(s, "feed  ", fullName(p.Namespace, p.Name, feed.Name), feed.Annotations, paramUnion(feed.Annotations, feed.Parameters))
	}
}

func (a *app) listPackages(ctx context.Context, ns string, o client.ListOptions) ([]entity.PackageSummary, error) {
	b, err := a.cl.List(ctx, ns, client.Packages, "", o)
	if err != nil {
		return nil, err
	}
	var pkgs []entity.PackageSummary
	if err := json.Unmarshal(b, &pkgs); err != nil {
		return nil, newError(err.Error(), exitGeneral, false)
	}
	return pkgs, nil
}

func printPackageList(s stream, pkgs []entity.PackageSummary) {
	fmt.Fprintln(s.w, s.bold("packages"))
	for _, p := range pkgs {
		state := "private"
		if p.Publish {
			state = "shared"
		}
		fmt.Fprintf(s.w, "%-70s %s\n", "/"+string(p.Namespace)+"/"+p.Name, state)
	}
}
