package wskcli

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Property keys of a .wskprops file.
const (
	propAPIHost    = "APIHOST"
	propAuth       = "AUTH"
	propNamespace  = "NAMESPACE"
	propAPIVersion = "APIVERSION"
	propCert       = "CERT"
	propKey        = "KEY"
)

// defaultAPIVersion is the API version without configuration.
const defaultAPIVersion = "v1"

// props is an ordered KEY=VALUE properties file.
type props struct {
	keys   []string
	values map[string]string
}

// parseProps reads KEY=VALUE lines: blank lines and lines starting with
// "#" are skipped, as are lines without "="; keys and values are trimmed;
// a repeated key keeps its last value.
func parseProps(data []byte) *props {
	p := &props{values: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		p.set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return p
}

func (p *props) get(k string) string { return p.values[k] }

func (p *props) set(k, v string) {
	if _, ok := p.values[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.values[k] = v
}

func (p *props) unset(k string) {
	if _, ok := p.values[k]; !ok {
		return
	}
	delete(p.values, k)
	for i, key := range p.keys {
		if key == k {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			break
		}
	}
}

// bytes is the file content: one KEY=VALUE line per key, in order.
func (p *props) bytes() []byte {
	var b bytes.Buffer
	for _, k := range p.keys {
		b.WriteString(k + "=" + p.values[k] + "\n")
	}
	return b.Bytes()
}

// readPropsFile reads a properties file; a missing file is empty.
func readPropsFile(path string) (*props, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return parseProps(nil), nil
	}
	if err != nil {
		return nil, err
	}
	return parseProps(data), nil
}

// writePropsFile writes the properties file atomically (mode 0600: it
// holds the auth key).
func writePropsFile(path string, p *props) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".wskprops-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(p.bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// propsPath is the properties file: WSK_CONFIG_FILE, else ~/.wskprops.
func propsPath(getenv func(string) string, home string) string {
	if f := getenv("WSK_CONFIG_FILE"); f != "" {
		return f
	}
	return filepath.Join(home, ".wskprops")
}

// config is the effective configuration: defaults, then the properties
// file, then the WHISK_* environment, then the global flags.
type config struct {
	APIHost, Auth, APIVersion, Namespace, Cert, Key string
}

// resolveConfig merges the layers (see config).
func resolveConfig(file *props, getenv func(string) string, g globalFlags) config {
	c := config{APIVersion: defaultAPIVersion, Namespace: "_"}
	over := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	over(&c.APIHost, file.get(propAPIHost))
	over(&c.Auth, file.get(propAuth))
	over(&c.APIVersion, file.get(propAPIVersion))
	over(&c.Namespace, file.get(propNamespace))
	over(&c.Cert, file.get(propCert))
	over(&c.Key, file.get(propKey))
	over(&c.APIHost, getenv("WHISK_APIHOST"))
	over(&c.Auth, getenv("WHISK_AUTH"))
	over(&c.APIVersion, getenv("WHISK_APIVERSION"))
	over(&c.APIHost, g.apihost)
	over(&c.Auth, g.auth)
	over(&c.APIVersion, g.apiversion)
	over(&c.Cert, g.cert)
	over(&c.Key, g.key)
	return c
}
