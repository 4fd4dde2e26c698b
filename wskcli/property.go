package wskcli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/wskcli/client"
)

type propertyFlags struct {
	auth, apihost, apiversion, cert, key, namespace bool
	all, apibuild, apibuildno, cliversion           bool
	output                                          string
}

func (a *app) propertyCommand() *cobra.Command {
	var f propertyFlags
	cmd := &cobra.Command{Use: "property", Short: "work with whisk properties"}
	set := &cobra.Command{Use: "set", Short: "set property",
		RunE: func(c *cobra.Command, _ []string) error { return a.propertySet(c) }}
	unset := &cobra.Command{Use: "unset", Short: "unset property",
		RunE: func(_ *cobra.Command, _ []string) error { return a.propertyUnset(&f) }}
	get := &cobra.Command{Use: "get", Short: "get property",
		RunE: func(c *cobra.Command, _ []string) error { return a.propertyGet(c.Context(), &f) }}
	for _, c := range []*cobra.Command{unset, get} {
		fl := c.Flags()
		fl.BoolVar(&f.cert, "cert", false, "client cert")
		fl.BoolVar(&f.key, "key", false, "client key")
		fl.BoolVar(&f.auth, "auth", false, "authorization key")
		fl.BoolVar(&f.apihost, "apihost", false, "whisk API host")
		fl.BoolVar(&f.apiversion, "apiversion", false, "whisk API version")
		fl.BoolVar(&f.namespace, "namespace", false, "whisk namespace")
	}
	gf := get.Flags()
	gf.BoolVar(&f.apibuild, "apibuild", false, "whisk API build version")
	gf.BoolVar(&f.apibuildno, "apibuildno", false, "whisk API build number")
	gf.BoolVar(&f.cliversion, "cliversion", false, "whisk CLI version")
	gf.BoolVar(&f.all, "all", false, "all properties")
	gf.StringVarP(&f.output, "output", "o", "std", "Output format in std|raw")
	cmd.AddCommand(set, unset, get)
	return cmd
}

// propertySet writes the properties given as (global) flags to the
// properties file.
func (a *app) propertySet(c *cobra.Command) error {
	changed := func(n string) bool { return c.Flags().Changed(n) }
	var msgs []string
	if changed("cert") {
		a.file.set(propCert, a.g.cert)
		msgs = append(msgs, "client cert set. Run 'wsk property get --cert' to see the new value.")
	}
	if changed("key") {
		a.file.set(propKey, a.g.key)
		msgs = append(msgs, "client key set. Run 'wsk property get --key' to see the new value.")
	}
	if changed("auth") {
		a.file.set(propAuth, a.g.auth)
		msgs = append(msgs, "whisk auth set. Run 'wsk property get --auth' to see the new value.")
	}
	if changed("apihost") {
		if _, err := client.BaseURL(a.g.apihost); err != nil {
			return newError(fmt.Sprintf("Unable to set API host value; the API host value '%s' is invalid: %v", a.g.apihost, err), exitGeneral, false)
		}
		a.file.set(propAPIHost, a.g.apihost)
		msgs = append(msgs, "whisk API host set to "+a.out.bold(a.g.apihost))
	}
	if changed("apiversion") {
		a.file.set(propAPIVersion, a.g.apiversion)
		msgs = append(msgs, "whisk API version set to "+a.out.bold(a.g.apiversion))
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := writePropsFile(a.propsFile, a.file); err != nil {
		return newError("Unable to set the property value(s): "+err.Error(), exitGeneral, false)
	}
	for _, m := range msgs {
		a.out.okf("%s", m)
	}
	return nil
}

// propertyUnset removes properties from the properties file.
func (a *app) propertyUnset(f *propertyFlags) error {
	var msgs []string
	drop := func(on bool, key, text string) {
		if on {
			a.file.unset(key)
			msgs = append(msgs, text)
		}
	}
	drop(f.cert, propCert, "client cert unset.")
	drop(f.key, propKey, "client key unset.")
	drop(f.auth, propAuth, "whisk auth unset.")
	drop(f.namespace, propNamespace, "whisk namespace unset.")
	drop(f.apihost, propAPIHost, "whisk API host unset.")
	drop(f.apiversion, propAPIVersion, "whisk API version unset; the default value of "+defaultAPIVersion+" will be used.")
	if len(msgs) == 0 {
		return nil
	}
	if err := writePropsFile(a.propsFile, a.file); err != nil {
		return newError("Unable to unset the property value: "+err.Error(), exitGeneral, false)
	}
	for _, m := range msgs {
		a.out.okf("%s", m)
	}
	return nil
}

// propertyGet prints properties; without a flag, all of them. The
// namespace and the API build are asked from the server.
func (a *app) propertyGet(ctx context.Context, f *propertyFlags) error {
	if f.output != "std" && f.output != "raw" {
		return newError("Supported output format are std|raw", exitUsage, true)
	}
	all := f.all || !(f.auth || f.apihost || f.apiversion || f.cert || f.key || f.namespace ||
		f.apibuild || f.apibuildno || f.cliversion)
	c := a.config()
	line := func(label, tabs, value string) {
		if f.output == "raw" {
			fmt.Fprintln(a.out.w, value)
			return
		}
		fmt.Fprintf(a.out.w, "%s%s%s\n", label, tabs, a.out.bold(value))
	}
	if all || f.cert {
		line("client cert", "\t\t", c.Cert)
	}
	if all || f.key {
		line("client key", "\t\t", c.Key)
	}
	if all || f.auth {
		line("whisk auth", "\t\t", c.Auth)
	}
	if all || f.apihost {
		line("whisk API host", "\t\t", c.APIHost)
	}
	if all || f.apiversion {
		line("whisk API version", "\t", c.APIVersion)
	}
	if all || f.namespace {
		cl, err := a.client()
		if err != nil {
			return err
		}
		ns, err := cl.Namespaces(ctx)
		if err != nil {
			return wrapError(err, "Unable to obtain the list of available namespaces: %s", exitGeneral, false)
		}
		name := ""
		if len(ns) > 0 {
			name = ns[0]
		}
		line("whisk namespace", "\t\t", name)
	}
	if all || f.cliversion {
		line("whisk CLI version", "\t", a.env.Version)
	}
	if all || f.apibuild || f.apibuildno {
		cl, err := a.client()
		if err != nil {
			return err
		}
		info, err := cl.Info(ctx)
		if err != nil {
			return wrapError(err, "Unable to obtain API build information: %s", exitGeneral, false)
		}
		if all || f.apibuild {
			line("whisk API build", "\t\t", info.Build)
		}
		if all || f.apibuildno {
			line("whisk API build number", "\t", info.BuildNo)
		}
	}
	return nil
}
