package controller

import "github.com/gin-gonic/gin"

// registerLimitRoutes registers the limits routes on ns.
func (s *Server) registerLimitRoutes(ns *gin.RouterGroup) {}
