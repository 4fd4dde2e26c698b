package controller

import "github.com/gin-gonic/gin"

// registerRuleRoutes registers the rules routes on ns.
func (s *Server) registerRuleRoutes(ns *gin.RouterGroup) {}
