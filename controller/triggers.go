package controller

import "github.com/gin-gonic/gin"

// registerTriggerRoutes registers the triggers routes on ns.
func (s *Server) registerTriggerRoutes(ns *gin.RouterGroup) {}
