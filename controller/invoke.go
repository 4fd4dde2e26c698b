package controller

import "github.com/gin-gonic/gin"

// registerInvokeRoutes registers the invoke routes on ns.
func (s *Server) registerInvokeRoutes(ns *gin.RouterGroup) {}
