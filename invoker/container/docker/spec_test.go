package docker

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCPUShares(t *testing.T) {
	tests := []struct {
		name         string
		user, memory int
		want         int64
	}{
		{"quarter of 1024 MB", 1024, 256, 256},
		{"eighth of 2048 MB", 2048, 256, 128},
		{"integer ratio rounds down", 1024, 300, 341}, // 1024/3
		{"whole user memory", 1024, 1024, 1024},
		{"larger than the user memory", 512, 1024, 1024},
		{"minimum two shares", 1 << 20, 128, 2},
		{"tiny ratio above the minimum", 1024 * 256, 128, 2},
		{"zero memory", 1024, 0, 2},
		{"zero user memory", 0, 256, 2},
		{"negative memory", 1024, -5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUShares(tt.user, tt.memory); got != tt.want {
				t.Errorf("CPUShares(%d, %d) = %d, want %d", tt.user, tt.memory, got, tt.want)
			}
		})
	}
}

func TestContainerName(t *testing.T) {
	tests := []struct {
		name    string
		invoker string
		n       uint64
		spec    string
		want    string
	}{
		{"plain", "invoker0", 3, "guest_hello", "wskinvoker0_3_guest_hello"},
		{"prewarm", "invoker0", 1, "prewarm_nodejs20", "wskinvoker0_1_prewarm_nodejs20"},
		{"disallowed characters dropped", "inv-0", 7, "guest/pkg/hello:world.x", "wskinv0_7_guestpkghelloworldx"},
		{"empty spec name", "i", 9, "", "wski_9"},
		{"only bad characters", "i", 9, "/:-.", "wski_9"},
		{"unicode dropped", "i", 2, "héllo", "wski_2_hllo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainerName(tt.invoker, tt.n, tt.spec); got != tt.want {
				t.Errorf("ContainerName = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("long names are cut", func(t *testing.T) {
		got := ContainerName("inv", 1, strings.Repeat("a", 500))
		if len(got) != maxNameLength || !strings.HasPrefix(got, "wskinv_1_aaa") {
			t.Errorf("len %d, %q", len(got), got[:20])
		}
	})
}

func TestOwnsContainer(t *testing.T) {
	mine := map[string]string{LabelInvoker: "inv0"}
	tests := []struct {
		name   string
		names  []string
		labels map[string]string
		want   bool
	}{
		{"label and name", []string{"/wskinv0_1_guest_a"}, mine, true},
		{"name without slash", []string{"wskinv0_1_guest_a"}, mine, true},
		{"one of several names", []string{"/other", "/wskinv0_2_x"}, mine, true},
		{"no label", []string{"/wskinv0_1_guest_a"}, nil, false},
		{"other invoker's label", []string{"/wskinv0_1_guest_a"}, map[string]string{LabelInvoker: "inv01"}, false},
		{"other invoker's name with a longer prefix", []string{"/wskinv01_1_a"}, mine, false},
		{"stranger's container", []string{"/postgres"}, mine, false},
		{"no names", nil, mine, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownsContainer("inv0", tt.names, tt.labels); got != tt.want {
				t.Errorf("ownsContainer(%v, %v) = %v, want %v", tt.names, tt.labels, got, tt.want)
			}
		})
	}
}

func TestCleanupFilters(t *testing.T) {
	b, err := json.Marshal(cleanupFilters("inv0"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"label":{"gowhisk.invoker=inv0":true}}`; string(b) != want {
		t.Errorf("filters %s, want %s", b, want)
	}
}

func TestContainerLabels(t *testing.T) {
	got := containerLabels("inv0", "nodejs:20", map[string]string{"action": "guest/hello", LabelInvoker: "spoofed"})
	want := map[string]string{LabelInvoker: "inv0", LabelKind: "nodejs:20", "action": "guest/hello"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	if got := containerLabels("inv0", "", nil); !reflect.DeepEqual(got, map[string]string{LabelInvoker: "inv0"}) {
		t.Errorf("no kind: %v", got)
	}
}

func TestEnvList(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		listen string
		want   []string
	}{
		{"sorted, own variables last", map[string]string{"B": "2", "A": "1"}, "127.0.0.1:24001",
			[]string{"A=1", "B=2", "__OW_PROXY_LISTEN=127.0.0.1:24001", "OW_PROXY_TOKEN=tok"}},
		{"own variables cannot be overridden", map[string]string{"__OW_PROXY_LISTEN": "0.0.0.0:80", "OW_PROXY_TOKEN": "forged"}, "127.0.0.1:24001",
			[]string{"__OW_PROXY_LISTEN=127.0.0.1:24001", "OW_PROXY_TOKEN=tok"}},
		{"bad keys dropped", map[string]string{"": "x", "A=B": "y", "C": "a=b"}, "",
			[]string{"C=a=b", "OW_PROXY_TOKEN=tok"}},
		{"no listen address", map[string]string{"__OW_API_HOST": "http://127.0.0.1:3233", "__OW_PROXY_LISTEN": "x"}, "",
			[]string{"__OW_API_HOST=http://127.0.0.1:3233", "OW_PROXY_TOKEN=tok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := envList(tt.env, envVar{"__OW_PROXY_LISTEN", tt.listen}, envVar{"OW_PROXY_TOKEN", "tok"})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("envList = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHostConfig(t *testing.T) {
	hc := hostConfig(256, 256, "host")
	if hc.Memory != 256<<20 || hc.MemorySwap != 256<<20 {
		t.Errorf("memory %d swap %d", hc.Memory, hc.MemorySwap)
	}
	if hc.CPUShares != 256 {
		t.Errorf("cpu shares %d", hc.CPUShares)
	}
	if hc.PidsLimit == nil || *hc.PidsLimit != 1024 {
		t.Errorf("pids limit %v", hc.PidsLimit)
	}
	if !reflect.DeepEqual(hc.CapDrop, []string{"NET_RAW", "NET_ADMIN"}) {
		t.Errorf("cap drop %v", hc.CapDrop)
	}
	if len(hc.Ulimits) != 1 || hc.Ulimits[0].Name != "nofile" || hc.Ulimits[0].Soft != 1024 || hc.Ulimits[0].Hard != 1024 {
		t.Errorf("ulimits %+v", hc.Ulimits)
	}
	if hc.NetworkMode != "host" || hc.LogConfig.Type != "json-file" {
		t.Errorf("network %q log driver %q", hc.NetworkMode, hc.LogConfig.Type)
	}
	if hc := hostConfig(128, 1<<30, "actions"); hc.CPUShares != maxCPUShares || hc.NetworkMode != "actions" {
		t.Errorf("shares cap %d network %q", hc.CPUShares, hc.NetworkMode)
	}
	if hc := hostConfig(128, 0, "host"); hc.CPUShares != minCPUShares {
		t.Errorf("shares floor %d", hc.CPUShares)
	}
}

func TestImageTag(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"alpine", "latest"},
		{"alpine:latest", "latest"},
		{"alpine:3.19", "3.19"},
		{"user/image", "latest"},
		{"user/image:v1", "v1"},
		{"127.0.0.1:5000/user/image", "latest"},
		{"127.0.0.1:5000/user/image:v2", "v2"},
		{"user/image@sha256:abcd", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			if got := imageTag(tt.ref); got != tt.want {
				t.Errorf("imageTag(%q) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
}

func TestDecidePull(t *testing.T) {
	tests := []struct {
		name             string
		managed, disable bool
		image            string
		want             pullAction
	}{
		{"managed runtime never pulled", true, false, "openwhisk/action-nodejs-v20:nightly", pullSkip},
		{"managed even when pulling is off", true, true, "openwhisk/action-nodejs-v20:nightly", pullSkip},
		{"user image latest: pull required", false, false, "user/image:latest", pullRequired},
		{"user image without tag: pull required", false, false, "user/image", pullRequired},
		{"user image other tag: pull tolerant", false, false, "user/image:v1", pullTolerant},
		{"user image by digest: pull tolerant", false, false, "user/image@sha256:abcd", pullTolerant},
		{"pulling disabled", false, true, "user/image", pullNever},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decidePull(tt.managed, tt.disable, tt.image); got != tt.want {
				t.Errorf("decidePull = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPullErrorMessage(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&PullError{Image: "user/image:latest", Err: cause})
	if got, want := err.Error(), "Failed to pull container image 'user/image:latest'."; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("PullError does not unwrap to its cause")
	}
}

func TestIsExecNotFound(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{`OCI runtime create failed: container_linux.go:380: starting container process caused: exec: "/nope": stat /nope: no such file or directory: unknown`, true},
		{`exec: "foo": executable file not found in $PATH: unknown`, true},
		{`No command specified`, true},
		{`No such image: x`, false},
	}
	for _, tt := range tests {
		if got := isExecNotFound(errors.New(tt.msg)); got != tt.want {
			t.Errorf("isExecNotFound(%q) = %v", tt.msg, got)
		}
	}
}

func TestPorts(t *testing.T) {
	busy := map[int]bool{10002: true}
	p := newPorts(PortRange{10000, 10003}, 10000, func(port int) bool { return !busy[port] })
	var got []int
	for range 3 {
		port, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, port)
	}
	if !reflect.DeepEqual(got, []int{10000, 10001, 10003}) {
		t.Fatalf("ports %v", got)
	}
	if _, err := p.get(); err == nil {
		t.Fatal("a full range handed out a port")
	}
	p.put(10001)
	if port, err := p.get(); err != nil || port != 10001 {
		t.Fatalf("after put: %d %v", port, err)
	}
	busy[10002] = false
	p.put(10000)
	// Round robin: the next probe starts after the last port handed out.
	if port, _ := p.get(); port != 10002 {
		t.Errorf("round robin gave %d, want 10002", port)
	}
}
