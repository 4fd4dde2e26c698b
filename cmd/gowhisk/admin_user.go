package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
)

func newUserCmd(a *admin) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create, delete, show, list, rekey, block and unblock subjects",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newUserCreateCmd(a), newUserDeleteCmd(a), newUserGetCmd(a), newUserListCmd(a),
		newUserRekeyCmd(a), newUserBlockCmd(a, true), newUserBlockCmd(a, false),
	)
	return cmd
}

func newUserCreateCmd(a *admin) *cobra.Command {
	var ns, auth string
	cmd := &cobra.Command{
		Use:   "create SUBJECT",
		Short: "Create a subject, or add a namespace to one, and print its uuid:key",
		Long: `Create SUBJECT owning namespace NAMESPACE (default: a namespace named like
the subject) with the credentials given by -u, or new random ones, and print
them as uuid:key. If SUBJECT exists, NAMESPACE is added to it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := args[0]
			if ns == "" {
				ns = subject
			}
			if err := checkSubject(subject); err != nil {
				return err
			}
			if err := checkNamespace(ns); err != nil {
				return err
			}
			uuid, key, err := credentials(auth)
			if err != nil {
				return err
			}
			return a.with(cmd.Context(), true, func(ctx context.Context, s entity.SubjectAdmin) error {
				doc, err := s.GetSubject(ctx, subject)
				switch {
				case errors.Is(err, entity.ErrNotFound):
					doc = entity.Subject{Subject: subject}
				case err != nil:
					return err
				case doc.Blocked:
					return fmt.Errorf("subject %q is blocked: unblock it first", subject)
				case findNamespace(doc, ns) >= 0:
					return fmt.Errorf("namespace %q already exists for subject %q", ns, subject)
				}
				doc.Namespaces = append(doc.Namespaces, entity.NamespaceKey{Name: ns, UUID: uuid, Key: key})
				if _, err := s.PutSubject(ctx, doc); err != nil {
					if errors.Is(err, entity.ErrExists) {
						return fmt.Errorf("creating subject %q: the subject or these credentials already exist: %w", subject, err)
					}
					return fmt.Errorf("creating subject %q: %w", subject, err)
				}
				a.printf("%s:%s\n", uuid, key)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to create (default: SUBJECT)")
	cmd.Flags().StringVarP(&auth, "auth", "u", "", "use these credentials (UUID:KEY, KEY 64 letters and digits) instead of random ones")
	return cmd
}

func newUserDeleteCmd(a *admin) *cobra.Command {
	var ns string
	cmd := &cobra.Command{
		Use:   "delete SUBJECT",
		Short: "Delete a subject, or with -n only one of its namespaces",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := args[0]
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				if ns == "" {
					if err := s.DeleteSubject(ctx, subject); err != nil {
						if errors.Is(err, entity.ErrNotFound) {
							return fmt.Errorf("subject %q not found", subject)
						}
						return err
					}
					a.printf("Subject deleted\n")
					return nil
				}
				doc, err := getSubject(ctx, s, subject)
				if err != nil {
					return err
				}
				i := findNamespace(doc, ns)
				if i < 0 {
					return fmt.Errorf("namespace %q does not exist for subject %q", ns, subject)
				}
				doc.Namespaces = append(doc.Namespaces[:i:i], doc.Namespaces[i+1:]...)
				if _, err := s.PutSubject(ctx, doc); err != nil {
					return err
				}
				a.printf("Namespace deleted\n")
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "delete only this namespace of the subject")
	return cmd
}

func newUserGetCmd(a *admin) *cobra.Command {
	var ns string
	var all bool
	cmd := &cobra.Command{
		Use:   "get SUBJECT",
		Short: "Print the uuid:key of a subject's namespace (or of all with --all)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := args[0]
			if ns == "" {
				ns = subject
			}
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				doc, err := getSubject(ctx, s, subject)
				if err != nil {
					return err
				}
				if all {
					for _, n := range doc.Namespaces {
						a.printf("%s\t%s:%s\n", n.Name, n.UUID, n.Key)
					}
					return nil
				}
				i := findNamespace(doc, ns)
				if i < 0 {
					return fmt.Errorf("namespace %q does not exist for subject %q", ns, subject)
				}
				a.printf("%s:%s\n", doc.Namespaces[i].UUID, doc.Namespaces[i].Key)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace whose key to print (default: SUBJECT)")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "print every namespace of the subject with its key")
	return cmd
}

func newUserListCmd(a *admin) *cobra.Command {
	var keyOnly bool
	cmd := &cobra.Command{
		Use:   "list NAMESPACE",
		Short: "List the keys of the subjects owning a namespace (uuid:key<TAB>subject)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := args[0]
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				subjects, err := s.ListSubjects(ctx)
				if err != nil {
					return err
				}
				for _, subj := range subjects {
					for _, n := range subj.Namespaces {
						if n.Name != ns {
							continue
						}
						switch {
						case keyOnly:
							a.printf("%s:%s\n", n.UUID, n.Key)
						case subj.Blocked:
							a.printf("%s:%s\t%s\tblocked\n", n.UUID, n.Key, subj.Subject)
						default:
							a.printf("%s:%s\t%s\n", n.UUID, n.Key, subj.Subject)
						}
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&keyOnly, "key", "k", false, "print only the keys")
	return cmd
}

func newUserRekeyCmd(a *admin) *cobra.Command {
	var ns, auth string
	cmd := &cobra.Command{
		Use:   "rekey SUBJECT",
		Short: "Give a subject's namespace new credentials and print them",
		Long: `Replace the uuid:key of namespace NAMESPACE (default: SUBJECT) of SUBJECT
with the credentials given by -u, or new random ones, and print them. The old
credentials stop working.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := args[0]
			if ns == "" {
				ns = subject
			}
			uuid, key, err := credentials(auth)
			if err != nil {
				return err
			}
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				doc, err := getSubject(ctx, s, subject)
				if err != nil {
					return err
				}
				i := findNamespace(doc, ns)
				if i < 0 {
					return fmt.Errorf("namespace %q does not exist for subject %q", ns, subject)
				}
				doc.Namespaces[i].UUID, doc.Namespaces[i].Key = uuid, key
				if _, err := s.PutSubject(ctx, doc); err != nil {
					return err
				}
				a.printf("%s:%s\n", uuid, key)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&ns, "namespace", "n", "", "namespace to rekey (default: SUBJECT)")
	cmd.Flags().StringVarP(&auth, "auth", "u", "", "use these credentials (UUID:KEY) instead of random ones")
	return cmd
}

func newUserBlockCmd(a *admin, block bool) *cobra.Command {
	verb, short := "block", "Block subjects: all of their namespaces stop authenticating"
	if !block {
		verb, short = "unblock", "Unblock subjects"
	}
	return &cobra.Command{
		Use:   verb + " SUBJECT...",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				var errs []error
				for _, subject := range args {
					doc, err := getSubject(ctx, s, subject)
					if err == nil {
						doc.Blocked = block
						_, err = s.PutSubject(ctx, doc)
					}
					if err != nil {
						errs = append(errs, fmt.Errorf("%s %q: %w", verb, subject, err))
						continue
					}
					a.printf("%q %sed successfully\n", subject, verb)
				}
				return errors.Join(errs...)
			})
		},
	}
}

// getSubject is GetSubject with a not-found message naming the subject.
func getSubject(ctx context.Context, s entity.SubjectAdmin, subject string) (entity.Subject, error) {
	doc, err := s.GetSubject(ctx, subject)
	if errors.Is(err, entity.ErrNotFound) {
		return doc, fmt.Errorf("subject %q not found", subject)
	}
	return doc, err
}

// exactArgs and minArgs are cobra's argument checks as usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}
