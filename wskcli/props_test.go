package wskcli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseProps(t *testing.T) {
	p := parseProps([]byte("# comment\nAPIHOST = localhost:3233\n\nAUTH=u:k=with=equals\nnonsense\nAPIHOST=http://x\n"))
	if got := p.get(propAPIHost); got != "http://x" {
		t.Errorf("APIHOST = %q (a repeated key keeps its last value)", got)
	}
	if got := p.get(propAuth); got != "u:k=with=equals" {
		t.Errorf("AUTH = %q (only the first = separates)", got)
	}
	if got := string(p.bytes()); got != "APIHOST=http://x\nAUTH=u:k=with=equals\n" {
		t.Errorf("bytes = %q", got)
	}
	p.unset(propAPIHost)
	p.set(propAPIVersion, "v1")
	if got := string(p.bytes()); got != "AUTH=u:k=with=equals\nAPIVERSION=v1\n" {
		t.Errorf("after unset and set: %q", got)
	}
}

func TestPropsFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "props")
	p, err := readPropsFile(path)
	if err != nil || len(p.keys) != 0 {
		t.Fatalf("missing file: %v, %v", p, err)
	}
	p.set(propAuth, "u:k")
	p.set(propAPIHost, "localhost")
	if err := writePropsFile(path, p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v; want 0600 (it holds the key)", st.Mode(), err)
	}
	q, err := readPropsFile(path)
	if err != nil || q.get(propAuth) != "u:k" || q.get(propAPIHost) != "localhost" {
		t.Fatalf("read back %v, %v", q.values, err)
	}
	if err := os.WriteFile(path, nil, 0o000); err == nil && os.Geteuid() != 0 {
		if _, err := readPropsFile(path); err == nil {
			t.Errorf("an unreadable file read without error")
		}
	}
}

func TestPropsPath(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := propsPath(getenv, "/home/u"); got != "/home/u/.wskprops" {
		t.Errorf("default = %q", got)
	}
	env["WSK_CONFIG_FILE"] = "/etc/wsk"
	if got := propsPath(getenv, "/home/u"); got != "/etc/wsk" {
		t.Errorf("WSK_CONFIG_FILE = %q", got)
	}
}

func TestResolveConfig(t *testing.T) {
	file := parseProps([]byte("APIHOST=file-host\nAUTH=file-auth\nAPIVERSION=v9\nNAMESPACE=ns\n"))
	tests := []struct {
		name string
		env  map[string]string
		g    globalFlags
		want config
	}{
		{"defaults", nil, globalFlags{}, config{APIVersion: "v1", Namespace: "_"}},
		{"file", nil, globalFlags{}, config{APIHost: "file-host", Auth: "file-auth", APIVersion: "v9", Namespace: "ns"}},
		{"environment over file", map[string]string{"WHISK_APIHOST": "env-host", "WHISK_AUTH": "env-auth", "WHISK_APIVERSION": "v2"},
			globalFlags{}, config{APIHost: "env-host", Auth: "env-auth", APIVersion: "v2", Namespace: "ns"}},
		{"flags over environment", map[string]string{"WHISK_APIHOST": "env-host", "WHISK_AUTH": "env-auth"},
			globalFlags{apihost: "flag-host", auth: "flag-auth", apiversion: "v3"},
			config{APIHost: "flag-host", Auth: "flag-auth", APIVersion: "v3", Namespace: "ns"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := file
			if tc.name == "defaults" {
				f = parseProps(nil)
			}
			got := resolveConfig(f, func(k string) string { return tc.env[k] }, tc.g)
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
