package docker

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Labels set on every container this package creates.
const (
	// LabelInvoker holds the invoker name; Cleanup removes every container
	// carrying this invoker's value.
	LabelInvoker = "gowhisk.invoker"
	// LabelKind holds the runtime kind.
	LabelKind = "gowhisk.kind"
)

// Container-level limits every action container gets (reference §3.8).
const (
	pidsLimit     = 1024
	nofileLimit   = 1024
	totalCPUShare = 1024
	minCPUShares  = 2
	maxCPUShares  = 262144 // the kernel's cpu.shares maximum
	maxNameLength = 200
)

// droppedCaps are the capabilities OpenWhisk drops from action containers.
var droppedCaps = []string{"NET_RAW", "NET_ADMIN"}

// CPUShares is OpenWhisk's CPU weight for a container of memoryMB on an
// invoker with userMemoryMB of user memory: max(1024 / (user/memory), 2),
// where user/memory is an integer division. A container at least as large
// as the user memory gets the full 1024; a bad size gets the minimum.
func CPUShares(userMemoryMB, memoryMB int) int64 {
	if memoryMB <= 0 || userMemoryMB <= 0 {
		return minCPUShares
	}
	ratio := userMemoryMB / memoryMB
	if ratio < 1 {
		return totalCPUShare
	}
	return max(int64(totalCPUShare/ratio), minCPUShares)
}

// sanitizeName keeps only [A-Za-z0-9_] of s (OpenWhisk's container name rule).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ContainerName is the Docker name of the n-th container of an invoker:
// wsk<invoker>_<n>_<name>, keeping only [A-Za-z0-9_] and at most 200
// characters (OpenWhisk: wsk<uniqueName><instance>_<counter>_<prefix>_<suffix>).
func ContainerName(invoker string, n uint64, name string) string {
	s := "wsk" + sanitizeName(invoker) + "_" + strconv.FormatUint(n, 10)
	if t := sanitizeName(name); t != "" {
		s += "_" + t
	}
	if len(s) > maxNameLength {
		s = s[:maxNameLength]
	}
	return s
}

// namePrefix is the name prefix of every container of an invoker.
func namePrefix(invoker string) string { return "wsk" + sanitizeName(invoker) + "_" }

// cleanupFilters selects the containers of an invoker, running or not, by
// label.
func cleanupFilters(invoker string) client.Filters {
	return make(client.Filters).Add("label", LabelInvoker+"="+invoker)
}

// ownsContainer reports whether a listed container belongs to invoker: its
// label says so and its name has the invoker's prefix (so that a label
// filter the daemon ignored, or an invoker name that is a prefix of another,
// never removes a stranger's container).
func ownsContainer(invoker string, names []string, labels map[string]string) bool {
	if labels[LabelInvoker] != invoker {
		return false
	}
	p := "/" + namePrefix(invoker)
	for _, n := range names {
		if strings.HasPrefix(n, p) || strings.HasPrefix("/"+n, p) {
			return true
		}
	}
	return false
}

// containerLabels merges the spec's labels with this package's own (which
// win).
func containerLabels(invoker, kind string, extra map[string]string) map[string]string {
	l := make(map[string]string, len(extra)+2)
	maps.Copy(l, extra)
	l[LabelInvoker] = invoker
	if kind != "" {
		l[LabelKind] = kind
	}
	return l
}

// envVar is one variable this package sets for the action proxy.
type envVar struct{ name, value string }

// envList turns env into Docker's KEY=value list, sorted by key, with the
// proxy's own variables last (those with a name and a value; in their
// order) so that nothing in env overrides or duplicates them.
func envList(env map[string]string, own ...envVar) []string {
	isOwn := func(k string) bool {
		return slices.ContainsFunc(own, func(v envVar) bool { return v.name == k })
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		if k == "" || strings.ContainsRune(k, '=') || isOwn(k) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys)+len(own))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	for _, v := range own {
		if v.name != "" && v.value != "" {
			out = append(out, v.name+"="+v.value)
		}
	}
	return out
}

// hostConfig is the Docker host configuration of an action container with
// memoryMB of memory (and no swap beyond it), the given CPU shares, OpenWhisk's
// pids limit, dropped capabilities and nofile ulimit, the json-file log
// driver, and the network.
func hostConfig(memoryMB int, cpuShares int64, network string) *container.HostConfig {
	pids := int64(pidsLimit)
	mem := int64(memoryMB) * units.MiB
	return &container.HostConfig{
		NetworkMode: container.NetworkMode(network),
		LogConfig:   container.LogConfig{Type: "json-file"},
		CapDrop:     append([]string(nil), droppedCaps...),
		Resources: container.Resources{
			Memory:     mem,
			MemorySwap: mem,
			CPUShares:  min(max(cpuShares, minCPUShares), maxCPUShares),
			PidsLimit:  &pids,
			Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: nofileLimit, Hard: nofileLimit}},
		},
	}
}

// imageTag returns the tag of an image reference ("latest" when it has
// none; "" for a digest reference).
func imageTag(ref string) string {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		return ""
	}
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[i+1:]
	}
	return "latest"
}

// pullAction is what to do about a user image before creating a container.
type pullAction int

const (
	pullSkip     pullAction = iota // a managed runtime image: never pulled
	pullRequired                   // pull; a failure is fatal
	pullTolerant                   // pull; a failure is fine if the image exists locally
	pullNever                      // never pull; the image must exist locally
)

// decidePull applies OpenWhisk's pull policy (reference §4.6): managed
// runtime images are never pulled; user blackbox images are pulled, and a
// failed pull is fatal for the tag latest (or no tag) but tolerated for
// another tag when the image exists locally. With pulling disabled, user
// images must exist locally.
func decidePull(managed, pullDisabled bool, image string) pullAction {
	switch {
	case managed:
		return pullSkip
	case pullDisabled:
		return pullNever
	case imageTag(image) == "latest":
		return pullRequired
	default:
		return pullTolerant
	}
}

// PullError is the developer error of a blackbox action whose image could
// not be pulled (or does not exist when pulling is disabled). Its message is
// OpenWhisk's: "Failed to pull container image 'x'."
type PullError struct {
	Image string
	Err   error // the cause, for logs
}

func (e *PullError) Error() string {
	return fmt.Sprintf("Failed to pull container image '%s'.", e.Image)
}
func (e *PullError) Unwrap() error { return e.Err }
