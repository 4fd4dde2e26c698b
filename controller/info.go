package controller

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gowhisk/gowhisk/entity"
)

// CORS headers of the /api/v1 routes (OpenWhisk CorsSettings).
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
	h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
}

// ping answers GET /ping.
func (s *Server) ping(c *gin.Context) { c.String(http.StatusOK, "pong") }

// runtimeInfo is one kind in the runtimes map of GET /.
type runtimeInfo struct {
	Kind        string `json:"kind"`
	Image       string `json:"image"`
	Deprecated  bool   `json:"deprecated"`
	Default     bool   `json:"default"`
	Attached    bool   `json:"attached"`
	RequireMain bool   `json:"requireMain"`
}

// controllerInfo answers GET /: description, support, api paths, limits
// (memory and logs in bytes) and the runtimes of the manifest.
func (s *Server) controllerInfo(c *gin.Context) {
	respond(c, http.StatusOK, controllerInfoBody(s.cfg.Limits, s.cfg.Manifest))
}

func controllerInfoBody(l entity.SystemLimits, m *entity.Manifest) map[string]any {
	const mb = 1024 * 1024
	limits := map[string]any{
		"actions_per_minute":          l.InvocationsPerMinute,
		"triggers_per_minute":         l.FiresPerMinute,
		"concurrent_actions":          l.ConcurrentInvocations,
		"sequence_length":             l.SequenceMaxLength,
		"min_action_duration":         l.Timeout.Min,
		"max_action_duration":         l.Timeout.Max,
		"min_action_memory":           int64(l.Memory.Min) * mb,
		"max_action_memory":           int64(l.Memory.Max) * mb,
		"min_action_logs":             int64(l.Logs.Min) * mb,
		"max_action_logs":             int64(l.Logs.Max) * mb,
		"default_min_action_duration": l.Timeout.Min,
		"default_max_action_duration": l.Timeout.Max,
		"default_min_action_memory":   int64(l.Memory.Min) * mb,
		"default_max_action_memory":   int64(l.Memory.Max) * mb,
		"default_min_action_logs":     int64(l.Logs.Min) * mb,
		"default_max_action_logs":     int64(l.Logs.Max) * mb,
	}
	runtimes := map[string][]runtimeInfo{}
	for fam, kinds := range m.Runtimes {
		list := make([]runtimeInfo, 0, len(kinds))
		for _, k := range kinds {
			list = append(list, runtimeInfo{Kind: k.Kind, Image: k.Image.String(), Deprecated: k.Deprecated,
				Default: k.Default, Attached: len(k.Attached) > 0 && string(k.Attached) != "null", RequireMain: k.RequireMain})
		}
		runtimes[fam] = list
	}
	return map[string]any{
		"description": "OpenWhisk",
		"support": map[string]string{
			"github": "https://github.com/apache/openwhisk/issues",
			"slack":  "http://slack.openwhisk.org",
		},
		"api_paths": []string{"/api/v1"},
		"limits":    limits,
		"runtimes":  runtimes,
	}
}

// apiInfo answers GET /api/v1.
func (s *Server) apiInfo(c *gin.Context) {
	respond(c, http.StatusOK, map[string]any{
		"description":      "OpenWhisk API",
		"api_version":      "1.0.0",
		"api_version_path": "v1",
		"build":            s.cfg.Build,
		"buildno":          s.cfg.BuildNo,
		"swagger_paths":    map[string]string{"ui": "/docs", "api-docs": "/api-docs"},
	})
}

// listNamespaces answers GET /api/v1/namespaces: the caller's namespace.
func (s *Server) listNamespaces(c *gin.Context) {
	respond(c, http.StatusOK, []string{callerIdentity(c).Namespace.Name})
}
