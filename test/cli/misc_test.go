package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestVerboseAndVersion checks what the golden transcript normalizes
// away: the --verbose trace, --debug's untruncated bodies, and the CLI
// version.
func TestVerboseAndVersion(t *testing.T) {
	e := setup(t)
	e.ok(t, "property", "set", "--apihost", e.srv.apihost, "--auth", e.srv.auth)
	big := strings.Repeat("x", 1500)
	e.writeFile(t, "big.js", "// "+big+"\nfunction main(p) { return p }\n")

	out := e.ok(t, "-v", "action", "create", "big", "big.js")
	for _, want := range []string{
		"REQUEST:\n[PUT]\t" + e.srv.apihost + "/api/v1/namespaces/_/actions/big?overwrite=false\n",
		"Req Headers\n", `"Authorization": [`, `"User-Agent": [` + "\n" + `        "OpenWhisk-CLI/1.0 (`,
		"Req Body\n", "RESPONSE:Got response with code 200\n", "Resp Headers\n", "Response body received:\n",
		"ok: created action big\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("wsk -v output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, big) || !strings.Contains(out, "...") {
		t.Errorf("wsk -v did not truncate a body over 1000 bytes")
	}
	if out := e.ok(t, "-d", "action", "get", "big", "--save-as", "copy.js"); !strings.Contains(out, big) {
		t.Errorf("wsk -d truncated a body:\n%.2000s", out)
	}

	out = e.ok(t, "property", "get", "--cliversion")
	if !regexp.MustCompile(`^whisk CLI version\t\S.*\n$`).MatchString(out) {
		t.Errorf("property get --cliversion printed %q", out)
	}
	out = e.ok(t, "property", "get")
	for _, label := range []string{"whisk auth", "whisk API host", "whisk API version", "whisk namespace", "whisk CLI version", "whisk API build", "whisk API build number"} {
		if !strings.Contains(out, label+"\t") {
			t.Errorf("property get lacks %q:\n%s", label, out)
		}
	}
	// Not a terminal: no colour codes.
	if strings.Contains(out+e.ok(t, "action", "list"), "\x1b[") {
		t.Errorf("colour codes written to a pipe")
	}
}
