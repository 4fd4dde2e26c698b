package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gowhisk/gowhisk/invoker/pool"
	"github.com/gowhisk/gowhisk/runtimes"
)

func TestChooseSandbox(t *testing.T) {
	down := errors.New("docker: no daemon")
	for _, tt := range []struct {
		name      string
		mode      string
		dockerErr error
		want      string
		whyHas    string
		wantErr   string
	}{
		{name: "process forced", mode: "process", dockerErr: down, want: "process", whyHas: "--sandbox process"},
		{name: "process forced although docker works", mode: "process", want: "process", whyHas: "--sandbox process"},
		{name: "docker forced and usable", mode: "docker", want: "docker", whyHas: "--sandbox docker"},
		{name: "docker forced but unusable", mode: "docker", dockerErr: down, wantErr: "no daemon"},
		{name: "auto with docker", mode: "auto", want: "docker", whyHas: "unix:///d.sock"},
		{name: "auto without docker", mode: "auto", dockerErr: down, want: "process", whyHas: "no daemon"},
		{name: "unknown mode", mode: "vm", wantErr: "want auto, process or docker"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := chooseSandbox(tt.mode, "unix:///d.sock", tt.dockerErr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || !strings.Contains(why, tt.whyHas) {
				t.Fatalf("= %q %q %v, want %q with a reason containing %q", got, why, err, tt.want, tt.whyHas)
			}
		})
	}
}

func TestRuntimeImages(t *testing.T) {
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(runtimeImages(m), " ")
	want := "openwhisk/action-nodejs-v20:nightly openwhisk/action-python-v3.11:nightly openwhisk/dockerskeleton:nightly"
	if got != want {
		t.Fatalf("runtimeImages = %q, want %q", got, want)
	}
}

func TestPoolStemCells(t *testing.T) {
	m, err := runtimes.LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("built-in manifest", func(t *testing.T) {
		got, err := poolStemCells(m, runtimes.ManifestJSON())
		if err != nil {
			t.Fatal(err)
		}
		want := []pool.StemCell{{Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", MemoryMB: 256, Count: 2}}
		if len(got) != 1 || got[0] != want[0] {
			t.Fatalf("poolStemCells = %+v, want %+v", got, want)
		}
	})
	t.Run("zero count dropped", func(t *testing.T) {
		doc := strings.Replace(string(runtimes.ManifestJSON()), `"initialCount": 2`, `"initialCount": 0`, 1)
		got, err := poolStemCells(m, []byte(doc))
		if err != nil || len(got) != 0 {
			t.Fatalf("poolStemCells = %+v, %v; want none", got, err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		if _, err := poolStemCells(m, []byte("{")); err == nil {
			t.Fatal("poolStemCells of a broken document succeeded")
		}
	})
}

func TestInvokerName(t *testing.T) {
	a, b := invokerName("/srv/a"), invokerName("/srv/b")
	if a == b || a != invokerName("/srv/a/") || !strings.HasPrefix(a, "invoker0_") {
		t.Fatalf("invokerName: /srv/a=%q /srv/b=%q: want distinct stable names per data dir", a, b)
	}
	for _, r := range a {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			t.Fatalf("invokerName %q has %q, not a container-name character", a, r)
		}
	}
}

// fakeInfo is a fs.FileInfo with only a mode.
type fakeInfo struct {
	fs.FileInfo
	mode fs.FileMode
}

func (f fakeInfo) Mode() fs.FileMode { return f.mode }

func TestProcessWorkRoot(t *testing.T) {
	modes := map[string]fs.FileMode{"/": 0o755, "/srv": 0o755, "/srv/data": 0o755, "/root": 0o700, "/root/.gowhisk": 0o755}
	stat := func(p string) (fs.FileInfo, error) {
		if m, ok := modes[p]; ok {
			return fakeInfo{mode: fs.ModeDir | m}, nil
		}
		return nil, os.ErrNotExist
	}
	for _, tt := range []struct {
		name, dataDir, flag string
		euid                int
		want                string
	}{
		{name: "flag wins", dataDir: "/root/.gowhisk", flag: "/var/sb", want: "/var/sb"},
		{name: "root, open data dir", dataDir: "/srv/data", want: "/srv/data/sandbox"},
		{name: "root, data dir not created yet", dataDir: "/srv/new", want: "/srv/new/sandbox"},
		{name: "root, data dir under a private home", dataDir: "/root/.gowhisk", want: "/tmp/gowhisk-sandbox"},
		{name: "not root, private home is fine", dataDir: "/root/.gowhisk", euid: 1000, want: "/root/.gowhisk/sandbox"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := sandboxConfig{opts: executionOptions{sandboxDir: tt.flag}, dataDir: tt.dataDir,
				geteuid: func() int { return tt.euid }, tempDir: func() string { return "/tmp" }, statPath: stat}
			got, why := processWorkRoot(c)
			if got != filepath.Clean(tt.want) || why == "" {
				t.Fatalf("processWorkRoot = %q (%s), want %q", got, why, tt.want)
			}
		})
	}
}

func TestStandaloneValidateExecutionFlags(t *testing.T) {
	ok := standaloneOptions{exec: executionOptions{sandbox: "auto", userMemoryMB: 2048, pauseGrace: time.Second, idleTimeout: time.Minute}}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(*executionOptions)
		want   string
	}{
		{name: "unknown sandbox", change: func(o *executionOptions) { o.sandbox = "vm" }, want: "--sandbox"},
		{name: "user memory below an action's minimum", change: func(o *executionOptions) { o.userMemoryMB = 64 }, want: "--user-memory"},
		{name: "zero pause grace", change: func(o *executionOptions) { o.pauseGrace = 0 }, want: "--pause-grace"},
		{name: "zero idle timeout", change: func(o *executionOptions) { o.idleTimeout = 0 }, want: "--idle-timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o.exec)
			err := o.validate()
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want a usage error about %s", err, tt.want)
			}
		})
	}
}

func TestStandaloneFlagsHaveEnv(t *testing.T) {
	cmd := newStandaloneCmd(env{Getenv: func(string) string { return "" }})
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		n++
		names := f.Annotations[envAnnotation]
		want := "GOWHISK_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if len(names) != 1 || names[0] != want {
			t.Errorf("flag --%s: env %v, want %s", f.Name, names, want)
		}
	})
	if n < 20 {
		t.Fatalf("only %d flags", n)
	}
}
