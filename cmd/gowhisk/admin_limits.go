package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gowhisk/gowhisk/entity"
)

// intLimit is one integer field of a namespace limits document.
type intLimit struct {
	name, help string
	field      func(*entity.UserLimits) **int
}

// intLimits are the integer limits `limits set` accepts, in the order
// `limits get` prints them (JSON field names of OpenWhisk's limits docs).
func intLimits() []intLimit {
	return []intLimit{
		{"invocationsPerMinute", "invocations per minute (0 blocks the namespace)", func(u *entity.UserLimits) **int { return &u.InvocationsPerMinute }},
		{"firesPerMinute", "trigger fires per minute", func(u *entity.UserLimits) **int { return &u.FiresPerMinute }},
		{"concurrentInvocations", "concurrent invocations (0 blocks the namespace)", func(u *entity.UserLimits) **int { return &u.ConcurrentInvocations }},
		{"minActionMemory", "minimum action memory, MB", func(u *entity.UserLimits) **int { return &u.MinActionMemory }},
		{"maxActionMemory", "maximum action memory, MB", func(u *entity.UserLimits) **int { return &u.MaxActionMemory }},
		{"minActionLogs", "minimum action log size, MB", func(u *entity.UserLimits) **int { return &u.MinActionLogs }},
		{"maxActionLogs", "maximum action log size, MB", func(u *entity.UserLimits) **int { return &u.MaxActionLogs }},
		{"minActionTimeout", "minimum action timeout, ms", func(u *entity.UserLimits) **int { return &u.MinActionTimeout }},
		{"maxActionTimeout", "maximum action timeout, ms", func(u *entity.UserLimits) **int { return &u.MaxActionTimeout }},
		{"minActionConcurrency", "minimum intra-container concurrency", func(u *entity.UserLimits) **int { return &u.MinActionConcurrency }},
		{"maxActionConcurrency", "maximum intra-container concurrency", func(u *entity.UserLimits) **int { return &u.MaxActionConcurrency }},
		{"maxActionInstances", "maximum containers per action", func(u *entity.UserLimits) **int { return &u.MaxActionInstances }},
		{"maxParameterSize", "maximum size of parameters (and of annotations), bytes", func(u *entity.UserLimits) **int { return &u.MaxParameterSize }},
		{"maxPayloadSize", "maximum invoke/fire payload, bytes", func(u *entity.UserLimits) **int { return &u.MaxPayloadSize }},
		{"truncationSize", "result size above which results are truncated, bytes", func(u *entity.UserLimits) **int { return &u.TruncationSize }},
		{"warmedContainerKeepingCount", "warm containers to keep", func(u *entity.UserLimits) **int { return &u.WarmedContainerKeepingCount }},
	}
}

// limitsOrder is the order `limits get` prints fields in.
func limitsOrder() []string {
	names := []string{}
	for i, l := range intLimits() {
		names = append(names, l.name)
		if i == 2 {
			names = append(names, "allowedKinds", "storeActivations")
		}
	}
	return append(names, "warmedContainerKeepingTimeout")
}

func newLimitsCmd(a *admin) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "limits",
		Short: "Set, show and delete a namespace's limits (overrides of the system limits)",
		Args:  noSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newLimitsSetCmd(a), newLimitsGetCmd(a), newLimitsDeleteCmd(a))
	return cmd
}

func newLimitsSetCmd(a *admin) *cobra.Command {
	ints := intLimits()
	values := make([]int, len(ints))
	var kinds []string
	var store, keepTimeout string
	cmd := &cobra.Command{
		Use:   "set NAMESPACE [--LIMIT VALUE]...",
		Short: "Set limits of a namespace; limits not given keep their value",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := args[0]
			if err := checkNamespace(ns); err != nil {
				return err
			}
			fs := cmd.Flags()
			changed := false
			apply := []func(*entity.UserLimits){}
			for i, l := range ints {
				if !fs.Changed(l.name) {
					continue
				}
				if values[i] < 0 {
					return usageError{fmt.Errorf("--%s must not be negative", l.name)}
				}
				v, field := values[i], l.field
				apply = append(apply, func(u *entity.UserLimits) { *field(u) = &v })
				changed = true
			}
			if fs.Changed("allowedKinds") {
				clean := []string{}
				for _, k := range kinds {
					if k = strings.TrimSpace(k); k != "" {
						clean = append(clean, k)
					}
				}
				apply = append(apply, func(u *entity.UserLimits) {
					u.AllowedKinds = nil
					if len(clean) > 0 {
						u.AllowedKinds = clean
					}
				})
				changed = true
			}
			if fs.Changed("storeActivations") {
				b, err := strconv.ParseBool(store)
				if err != nil {
					return usageError{fmt.Errorf("--storeActivations %q: want true or false", store)}
				}
				apply = append(apply, func(u *entity.UserLimits) { u.StoreActivations = &b })
				changed = true
			}
			if fs.Changed("warmedContainerKeepingTimeout") {
				t := strings.TrimSpace(keepTimeout)
				apply = append(apply, func(u *entity.UserLimits) {
					u.WarmedContainerKeepingTime = nil
					if t != "" {
						u.WarmedContainerKeepingTime = &t
					}
				})
				changed = true
			}
			if !changed {
				return usageError{errors.New("limits set: give at least one limit, e.g. --invocationsPerMinute 120")}
			}
			return a.with(cmd.Context(), true, func(ctx context.Context, s entity.SubjectAdmin) error {
				l, err := s.GetLimits(ctx, ns)
				if err != nil {
					return err
				}
				for _, f := range apply {
					f(&l)
				}
				if err := s.PutLimits(ctx, ns, l); err != nil {
					return err
				}
				a.printf("Limits successfully set for %q\n", ns)
				return nil
			})
		},
	}
	fs := cmd.Flags()
	for i, l := range ints {
		fs.IntVar(&values[i], l.name, 0, l.help)
	}
	fs.StringSliceVar(&kinds, "allowedKinds", nil, "comma-separated kinds the namespace may use, e.g. nodejs:20,python:3 (\"\" allows all)")
	fs.StringVar(&store, "storeActivations", "", "whether activation records are stored: true or false")
	fs.StringVar(&keepTimeout, "warmedContainerKeepingTimeout", "", "how long warm containers are kept, e.g. \"60 minutes\"")
	return cmd
}

func newLimitsGetCmd(a *admin) *cobra.Command {
	return &cobra.Command{
		Use:   "get NAMESPACE",
		Short: "Print the limits set for a namespace (NAME = VALUE lines)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				l, err := s.GetLimits(ctx, args[0])
				if err != nil {
					return err
				}
				lines, err := formatLimits(l)
				if err != nil {
					return err
				}
				if len(lines) == 0 {
					a.printf("No limits found, default system limits apply\n")
				}
				for _, line := range lines {
					a.printf("%s\n", line)
				}
				return nil
			})
		},
	}
}

// formatLimits returns "name = value" for every limit set in l, in
// limitsOrder; values are JSON (lists as ["a","b"], strings quoted).
func formatLimits(l entity.UserLimits) ([]string, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	var lines []string
	for _, name := range limitsOrder() {
		if v, ok := fields[name]; ok {
			lines = append(lines, name+" = "+string(v))
		}
	}
	return lines, nil
}

func newLimitsDeleteCmd(a *admin) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAMESPACE",
		Short: "Delete the limits of a namespace (the system limits apply again)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.with(cmd.Context(), false, func(ctx context.Context, s entity.SubjectAdmin) error {
				if err := s.DeleteLimits(ctx, args[0]); err != nil {
					if errors.Is(err, entity.ErrNotFound) {
						return fmt.Errorf("no limits set for namespace %q", args[0])
					}
					return err
				}
				a.printf("Limits deleted\n")
				return nil
			})
		},
	}
}
