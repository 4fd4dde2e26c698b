package actionloop

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gowhisk/gowhisk/entity"
	"github.com/gowhisk/gowhisk/invoker/container"
)

// Family is the launcher family of a kind.
type Family string

const (
	FamilyNodejs Family = "nodejs"
	FamilyPython Family = "python"
	FamilyNative Family = "native" // blackbox with the native skeleton
)

// KindFamily maps an action kind ("nodejs:20", "python:3.11", "blackbox",
// "native") to its launcher family.
func KindFamily(kind string) (Family, error) {
	fam, _, _ := strings.Cut(kind, ":")
	switch fam {
	case "nodejs":
		return FamilyNodejs, nil
	case "python":
		return FamilyPython, nil
	case entity.KindBlackbox, "native":
		return FamilyNative, nil
	}
	return "", fmt.Errorf("%w: no launcher for kind %q", entity.ErrInvalid, kind)
}

// Limits bound what Prepare writes to disk.
type Limits struct {
	MaxBytes int64 // total uncompressed bytes of an archive
	MaxFiles int   // entries of an archive
}

// Default limits (a zero Limits field takes its default).
const (
	DefaultMaxBytes = 1 << 30
	DefaultMaxFiles = 100000
)

// Messages of Prepare's user errors (OpenWhisk's runtimes' wording).
const (
	MissingCode     = "Missing main/no code to execute."
	ArchiveError    = "There was an error uncompressing the action archive."
	NoBinary        = "The action failed to generate or locate a binary. See logs for details."
	SourceFileNode  = "action.js"
	SourceFilePy    = "__main__.py"
	NativeFile      = "exec"
	zipMagic        = "PK\x03\x04"
	zipEmptyMagic   = "PK\x05\x06"
	defaultFileMode = 0o644
)

// Prepare writes the action code of req into dir (which must exist) and
// returns the path the launcher loads: a source file, or the directory of
// an unzipped archive (nodejs, python), or the executable (native). Base64
// is decoded when req.Binary. Archives are unpacked safely (no path leaves
// dir, default limits). Errors wrap entity.ErrInvalid (user errors: missing
// or undecodable code, a bad archive) or entity.ErrTooLarge (limits); other
// errors are I/O failures.
func Prepare(dir string, kind string, req container.InitRequest) (string, error) {
	return PrepareWithLimits(dir, kind, req, Limits{})
}

// PrepareWithLimits is Prepare with explicit limits.
func PrepareWithLimits(dir string, kind string, req container.InitRequest, lim Limits) (string, error) {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = DefaultMaxFiles
	}
	fam, err := KindFamily(kind)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(req.Code) == "" {
		return "", fmt.Errorf("%w: %s", entity.ErrInvalid, MissingCode)
	}
	code := []byte(req.Code)
	if req.Binary {
		code, err = base64.StdEncoding.DecodeString(strings.TrimSpace(req.Code))
		if err != nil {
			return "", fmt.Errorf("%w: cannot decode the action code: %v", entity.ErrInvalid, err)
		}
		if bytes.HasPrefix(code, []byte(zipMagic)) || bytes.HasPrefix(code, []byte(zipEmptyMagic)) {
			if err := unzip(dir, code, lim); err != nil {
				return "", err
			}
			switch fam {
			case FamilyNative:
				exe := filepath.Join(dir, NativeFile)
				st, err := os.Lstat(exe)
				if err != nil || !st.Mode().IsRegular() {
					return "", fmt.Errorf("%w: %s (the archive has no file %q)", entity.ErrInvalid, NoBinary, NativeFile)
				}
				if err := os.Chmod(exe, 0o755); err != nil {
					return "", err
				}
				return exe, nil
			default:
				return dir, nil
			}
		}
		if fam != FamilyNative {
			return "", fmt.Errorf("%w: %s (not a zip archive)", entity.ErrInvalid, ArchiveError)
		}
	}
	var name string
	var mode os.FileMode = defaultFileMode
	switch fam {
	case FamilyNodejs:
		name = SourceFileNode
	case FamilyPython:
		name = SourceFilePy
	case FamilyNative:
		name, mode = NativeFile, 0o755
	}
	p := filepath.Join(dir, name)
	if int64(len(code)) > lim.MaxBytes {
		return "", fmt.Errorf("%w: action code of %d bytes exceeds %d", entity.ErrTooLarge, len(code), lim.MaxBytes)
	}
	if err := os.WriteFile(p, code, mode); err != nil {
		return "", err
	}
	if err := os.Chmod(p, mode); err != nil { // umask
		return "", err
	}
	return p, nil
}

// unzip extracts the archive in b into dir through an os.Root, so that no
// entry (nor a symlink planted by an earlier entry) writes outside dir.
func unzip(dir string, b []byte, lim Limits) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	if len(zr.File) > lim.MaxFiles {
		return fmt.Errorf("%w: the action archive has %d entries, more than %d", entity.ErrTooLarge, len(zr.File), lim.MaxFiles)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	var total int64
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, "/")
		if name == "" || name == "." {
			continue
		}
		if strings.Contains(f.Name, "\\") || !filepath.IsLocal(name) || path.Clean(name) != name {
			return fmt.Errorf("%w: %s (entry %q leaves the archive directory)", entity.ErrInvalid, ArchiveError, f.Name)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readEntry(f, 4096)
			if err != nil {
				return err
			}
			t := string(target)
			if filepath.IsAbs(t) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), t)) {
				return fmt.Errorf("%w: %s (symlink %q points outside the archive)", entity.ErrInvalid, ArchiveError, f.Name)
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			if err := root.Symlink(t, name); err != nil {
				return fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
			}
		case mode.IsRegular():
			perm := os.FileMode(defaultFileMode)
			if mode.Perm()&0o111 != 0 {
				perm = 0o755
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			n, err := writeEntry(root, f, name, perm, lim.MaxBytes-total)
			total += n
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %s (entry %q is not a file, directory or symlink)", entity.ErrInvalid, ArchiveError, f.Name)
		}
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
		}
	}
	return nil
}

// writeEntry copies at most budget bytes of f into name.
func writeEntry(root *os.Root, f *zip.File, name string, perm os.FileMode, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return 0, fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	cerr := out.Close()
	if n > budget {
		return n, fmt.Errorf("%w: the action archive expands to more than the allowed bytes", entity.ErrTooLarge)
	}
	if err != nil {
		return n, fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	if cerr != nil {
		return n, cerr
	}
	if err := root.Chmod(name, perm); err != nil {
		return n, err
	}
	return n, nil
}

func readEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", entity.ErrInvalid, ArchiveError, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s (symlink target too long)", entity.ErrInvalid, ArchiveError)
	}
	return b, nil
}
