// Package dockerd gives integration tests a Docker daemon with gowhisk's
// runtime images: a private dockerd (Debian's docker.io, started as
// /work/shared/environment.md says: its own socket and state directory, no
// bridge network, no iptables rules) or a running one named by
// $GOWHISK_DOCKER_HOST, and the runtime images built offline by
// test/images/build.sh when they are missing.
//
// The package has no build tag so that any integration test can import it;
// it only starts a process when asked to.
package dockerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gowhisk/gowhisk/runtimes"
)

// Environment variables read by Setup.
const (
	// EnvHost names a running daemon to use (DOCKER_HOST form); Setup then
	// starts none.
	EnvHost = "GOWHISK_DOCKER_HOST"
	// EnvDir is the state directory of the private daemon, kept between
	// runs so that built images survive (default: a temporary directory,
	// removed afterwards).
	EnvDir = "GOWHISK_DOCKERD_DIR"
	// EnvImages set to "require" makes Setup fail when a runtime image is
	// missing instead of building it.
	EnvImages = "GOWHISK_DOCKER_IMAGES"
	// EnvImageCache is test/images/build.sh's rootfs cache directory.
	EnvImageCache = "GOWHISK_IMAGE_CACHE"
)

// StartTimeout bounds how long Launch waits for the daemon to answer.
const StartTimeout = 60 * time.Second

// Daemon is a dockerd started by Launch.
type Daemon struct {
	// Host is the daemon's address, unix://<dir>/docker.sock.
	Host string
	// Dir holds the socket, the data and exec roots and dockerd.log.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Launch starts dockerd with its state in dir (which it creates) and waits,
// bounded by ctx, until it answers on its socket.
func Launch(ctx context.Context, dir string) (*Daemon, error) {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, errors.New("dockerd not found: apt-get update && apt-get install -y --no-install-recommends docker.io")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "docker.sock")
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin,
		"--host", "unix://"+sock,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--iptables=false", "--ip6tables=false", "--bridge=none",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	d := &Daemon{Host: "unix://" + sock, Dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}, Timeout: time.Second}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	for {
		resp, err := hc.Get("http://docker/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("dockerd exited during start (%v): %s", d.err, d.logTail())
		case <-ctx.Done():
			d.Stop()
			return nil, fmt.Errorf("dockerd did not answer: %w: %s", ctx.Err(), d.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *Daemon) logTail() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop stops the daemon: SIGTERM (dockerd stops its containers and
// unmounts their file systems), then SIGKILL after 30 s; then it detaches
// what the daemon left mounted under Dir.
func (d *Daemon) Stop() error {
	defer unmountUnder(d.Dir)
	select {
	case <-d.exited:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return errors.New("dockerd did not stop on SIGTERM; killed")
	}
}

// RuntimeImages are the images of the embedded runtimes manifest: each
// kind's image and the blackbox (native skeleton) images.
func RuntimeImages() ([]string, error) {
	m, err := runtimes.LoadManifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kinds := range m.Runtimes {
		for _, k := range kinds {
			out = append(out, k.Image.String())
		}
	}
	for _, b := range m.Blackboxes {
		out = append(out, b.String())
	}
	return out, nil
}

// RepoRoot is the directory of gowhisk's go.mod, found from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/gowhisk/gowhisk\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("gowhisk's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// MissingImages lists which of images the daemon at host lacks (asking the
// docker CLI of the docker.io package).
func MissingImages(ctx context.Context, host string, images []string) ([]string, error) {
	var missing []string
	for _, im := range images {
		cmd := exec.CommandContext(ctx, dockerCLI(), "image", "inspect", "--format", "{{.Id}}", im)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		out, err := cmd.CombinedOutput()
		if err != nil {
			if bytes.Contains(bytes.ToLower(out), []byte("no such image")) {
				missing = append(missing, im)
				continue
			}
			return nil, fmt.Errorf("docker image inspect %s: %v: %s", im, err, out)
		}
	}
	return missing, nil
}

func dockerCLI() string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	return "docker"
}

// BuildImages runs test/images/build.sh against the daemon at host.
func BuildImages(ctx context.Context, host string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "test", "images", "build.sh"), "all")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("test/images/build.sh: %v\n%s", err, out.String())
	}
	return nil
}

// Setup returns the address of a daemon holding gowhisk's runtime images
// and a function that stops what Setup started. It uses $GOWHISK_DOCKER_HOST
// when set, else starts a private daemon in $GOWHISK_DOCKERD_DIR (or a
// temporary directory, removed by stop); it builds missing images with
// test/images/build.sh unless $GOWHISK_DOCKER_IMAGES is "require".
func Setup(ctx context.Context) (host string, stop func(), err error) {
	stop = func() {}
	host = os.Getenv(EnvHost)
	if host == "" {
		dir := os.Getenv(EnvDir)
		temp := dir == ""
		if temp {
			if dir, err = os.MkdirTemp("", "gowhisk-dockerd-"); err != nil {
				return "", stop, err
			}
		}
		d, err := Launch(ctx, dir)
		if err != nil {
			if temp {
				os.RemoveAll(dir)
			}
			return "", stop, err
		}
		host = d.Host
		stop = func() {
			if err := d.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "dockerd:", err)
			}
			if temp {
				if err := os.RemoveAll(dir); err != nil {
					fmt.Fprintln(os.Stderr, "dockerd:", err)
				}
			}
		}
	}
	images, err := RuntimeImages()
	if err != nil {
		return host, stop, err
	}
	missing, err := MissingImages(ctx, host, images)
	if err != nil {
		return host, stop, err
	}
	if len(missing) == 0 {
		return host, stop, nil
	}
	if os.Getenv(EnvImages) == "require" {
		return host, stop, fmt.Errorf("runtime images missing at %s: %s (build them with DOCKER_HOST=%s test/images/build.sh)",
			host, strings.Join(missing, ", "), host)
	}
	if err := BuildImages(ctx, host); err != nil {
		return host, stop, err
	}
	if missing, err = MissingImages(ctx, host, images); err != nil || len(missing) > 0 {
		return host, stop, fmt.Errorf("runtime images still missing after test/images/build.sh: %v %v", missing, err)
	}
	return host, stop, nil
}
