package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"

	"github.com/gowhisk/gowhisk/invoker/container"
)

// ensureImage applies the pull policy (reference §4.6) to the image of a
// new container. Managed runtime images are left alone (a missing one makes
// the create fail as a provisioning error); a user image that cannot be
// pulled or found gives a *PullError.
func (f *Factory) ensureImage(ctx context.Context, image string, managed bool) error {
	err := f.applyPullPolicy(ctx, image, managed)
	var pe *PullError
	if errors.As(err, &pe) {
		if ctx.Err() != nil {
			// The caller gave up (shutdown, a cancelled activation): not the image's fault.
			return fmt.Errorf("%w: %w", container.ErrProvision, ctx.Err())
		}
		// Keep the cause's text only: a pull that outlived its own
		// timeout is still a failed pull, not a cancelled call.
		pe.Err = errors.New(pe.Err.Error())
	}
	return err
}

func (f *Factory) applyPullPolicy(ctx context.Context, image string, managed bool) error {
	switch decidePull(managed, f.cfg.NoPull, image) {
	case pullSkip:
		return nil
	case pullNever:
		if err := f.imageExists(ctx, image); err != nil {
			return &PullError{Image: image, Err: err}
		}
		return nil
	case pullRequired:
		if err := f.pull(ctx, image); err != nil {
			return &PullError{Image: image, Err: err}
		}
		return nil
	default: // pullTolerant
		perr := f.pull(ctx, image)
		if perr == nil {
			return nil
		}
		if err := f.imageExists(ctx, image); err != nil {
			return &PullError{Image: image, Err: errors.Join(perr, err)}
		}
		f.log.Warn("pull failed; using the local image", "image", image, "err", perr)
		return nil
	}
}

func (f *Factory) imageExists(ctx context.Context, image string) error {
	ictx, cancel := context.WithTimeout(ctx, f.cfg.Timeouts.Inspect)
	defer cancel()
	if _, err := f.cli.ImageInspect(ictx, image); err != nil {
		return fmt.Errorf("inspecting image %s: %w", image, err)
	}
	return nil
}

// pull pulls an image, bounded by the pull timeout. Pulls run one at a
// time, as a registry is slow and the daemon serializes them anyway.
func (f *Factory) pull(ctx context.Context, image string) error {
	pctx, cancel := context.WithTimeout(ctx, f.cfg.Timeouts.Pull)
	defer cancel()
	select {
	case <-pctx.Done():
		return pctx.Err()
	default:
	}
	f.pullMu.Lock()
	defer f.pullMu.Unlock()
	resp, err := f.cli.ImagePull(pctx, image, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", image, err)
	}
	defer resp.Close()
	if err := resp.Wait(pctx); err != nil {
		return fmt.Errorf("pulling %s: %w", image, err)
	}
	return nil
}

// isExecNotFound reports whether a create or start error says the image's
// entrypoint does not exist (OpenWhisk: docker run exit code 127).
func isExecNotFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "executable file not found") ||
		strings.Contains(s, "no such file or directory: unknown") ||
		strings.Contains(s, "No command specified")
}
