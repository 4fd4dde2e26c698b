package actionloop

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
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
	return "", entity.Errorf(entity.ErrInvalid, "no launcher for kind %q", kind)
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
	p, err := prepare(dir, kind, req, lim)
	if err != nil {
		return "", hidePath(err, dir)
	}
	return p, nil
}

// pathlessError is an error whose message no longer shows the action's
// directory on the host; it unwraps to the original error.
type pathlessError struct {
	msg string
	err error
}

func (e *pathlessError) Error() string { return e.msg }
func (e *pathlessError) Unwrap() error { return e.err }

// hidePath removes dir from err's message: the messages of Prepare reach
// the action's developer (an init failure's result and logs), who must not
// learn where the invoker keeps actions. Paths under dir become relative,
// dir itself ".".
func hidePath(err error, dir string) error {
	dir = filepath.Clean(dir)
	msg := err.Error()
	if dir == "." || dir == string(filepath.Separator) || !strings.Contains(msg, dir) {
		return err
	}
	msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, dir, ".")
	return &pathlessError{msg: msg, err: err}
}

func prepare(dir string, kind string, req container.InitRequest, lim Limits) (string, error) {
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
		return "", entity.Errorf(entity.ErrInvalid, "%s", MissingCode)
	}
	code := []byte(req.Code)
	if req.Binary {
		code, err = base64.StdEncoding.DecodeString(strings.TrimSpace(req.Code))
		if err != nil {
			return "", entity.Errorf(entity.ErrInvalid, "cannot decode the action code: %v", err)
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
					return "", entity.Errorf(entity.ErrInvalid, "%s (the archive has no file %q)", NoBinary, NativeFile)
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
			return "", entity.Errorf(entity.ErrInvalid, "%s (not a zip archive)", ArchiveError)
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
		return "", entity.Errorf(entity.ErrTooLarge, "action code of %d bytes exceeds %d", len(code), lim.MaxBytes)
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
		return entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
	}
	if len(zr.File) > lim.MaxFiles {
		return entity.Errorf(entity.ErrTooLarge, "the action archive has %d entries, more than %d", len(zr.File), lim.MaxFiles)
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
			return entity.Errorf(entity.ErrInvalid, "%s (entry %q leaves the archive directory)", ArchiveError, f.Name)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readEntry(f, 4096)
			if err != nil {
				return err
			}
			t := string(target)
			if filepath.IsAbs(t) || !filepath.IsLocal(filepath.Join(filepath.Dir(name), t)) {
				return entity.Errorf(entity.ErrInvalid, "%s (symlink %q points outside the archive)", ArchiveError, f.Name)
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			if err := root.Symlink(t, name); err != nil {
				return entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
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
			return entity.Errorf(entity.ErrInvalid, "%s (entry %q is not a file, directory or symlink)", ArchiveError, f.Name)
		}
	}
	return nil
}

func mkParent(root *os.Root, name string) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
		}
	}
	return nil
}

// writeEntry copies at most budget bytes of f into name.
func writeEntry(root *os.Root, f *zip.File, name string, perm os.FileMode, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return 0, entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	cerr := out.Close()
	if n > budget {
		return n, entity.Errorf(entity.ErrTooLarge, "the action archive expands to more than the allowed bytes")
	}
	if err != nil {
		return n, entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
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
		return nil, entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, entity.Errorf(entity.ErrInvalid, "%s (%v)", ArchiveError, err)
	}
	if int64(len(b)) > max {
		return nil, entity.Errorf(entity.ErrInvalid, "%s (symlink target too long)", ArchiveError)
	}
	return b, nil
}
