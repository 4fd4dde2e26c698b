package runtimes

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
)

//go:embed nodejs/launcher.js python/launcher.py native/launcher.py
var launchers embed.FS

// Launcher returns the embedded launcher file at rel ("nodejs/launcher.js",
// "python/launcher.py", "native/launcher.py").
func Launcher(rel string) ([]byte, error) {
	return launchers.ReadFile(rel)
}

// InstallLaunchers writes the embedded launchers under dir (files 0644,
// directories 0755), replacing older copies, so that a sandbox can run
// them.
func InstallLaunchers(dir string) error {
	return fs.WalkDir(launchers, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			return os.Chmod(dst, 0o755)
		}
		b, err := launchers.ReadFile(p)
		if err != nil {
			return err
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, dst)
	})
}

// Local says how the process sandbox runs a kind: Interpreter [Args...]
// <launcher dir>/Launcher.
type Local struct {
	Interpreter string   `json:"interpreter"`
	Args        []string `json:"args,omitempty"`
	Launcher    string   `json:"launcher"`
}

// Command returns the command line of the launcher installed under
// launcherDir.
func (l Local) Command(launcherDir string) []string {
	cmd := append([]string{l.Interpreter}, l.Args...)
	return append(cmd, filepath.Join(launcherDir, filepath.FromSlash(l.Launcher)))
}

// LocalSettings reads the "local" settings of a manifest document, keyed
// by kind, alias, "<family>:default", and "blackbox" (the native
// skeleton, from the first blackbox image that has them).
func LocalSettings(manifest []byte) (map[string]Local, error) {
	var m struct {
		Runtimes map[string][]struct {
			Kind    string   `json:"kind"`
			Default bool     `json:"default"`
			Aliases []string `json:"aliases"`
			Local   *Local   `json:"local"`
		} `json:"runtimes"`
		Blackboxes []struct {
			Local *Local `json:"local"`
		} `json:"blackboxes"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("runtimes manifest: %w", err)
	}
	out := map[string]Local{}
	for fam, kinds := range m.Runtimes {
		for _, k := range kinds {
			if k.Local == nil {
				continue
			}
			if k.Local.Interpreter == "" || k.Local.Launcher == "" {
				return nil, fmt.Errorf("runtimes manifest: kind %q: local needs interpreter and launcher", k.Kind)
			}
			for _, name := range append([]string{k.Kind}, k.Aliases...) {
				out[name] = *k.Local
			}
			if k.Default || len(kinds) == 1 {
				out[fam+":default"] = *k.Local
			}
		}
	}
	for _, b := range m.Blackboxes {
		if b.Local != nil {
			out[entity.KindBlackbox] = *b.Local
			break
		}
	}
	return out, nil
}

// LocalCommand returns the command line that runs the launcher of kind
// (as in the embedded manifest) installed under launcherDir, e.g.
// ["/usr/bin/node", dir+"/nodejs/launcher.js"]. "blackbox" and "native"
// give the native-skeleton launcher. Error: entity.ErrInvalid for a kind
// without local settings.
func LocalCommand(kind string, launcherDir string) ([]string, error) {
	return LocalCommandWith(kind, launcherDir, nil)
}

// LocalCommandWith is LocalCommand with interpreter overrides keyed by
// family ("nodejs", "python", "blackbox") or by kind.
func LocalCommandWith(kind, launcherDir string, interpreters map[string]string) ([]string, error) {
	settings, err := LocalSettings(manifestJSON)
	if err != nil {
		return nil, err
	}
	if kind == "native" {
		kind = entity.KindBlackbox
	}
	l, ok := settings[kind]
	if !ok {
		return nil, fmt.Errorf("%w: kind %q cannot run in the process sandbox", entity.ErrInvalid, kind)
	}
	fam, _, _ := strings.Cut(kind, ":")
	if v := interpreters[kind]; v != "" {
		l.Interpreter = v
	} else if v := interpreters[fam]; v != "" {
		l.Interpreter = v
	}
	return l.Command(launcherDir), nil
}
