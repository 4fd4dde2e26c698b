package controller

import "github.com/gin-gonic/gin"

// registerActivationRoutes registers the activations routes on ns.
func (s *Server) registerActivationRoutes(ns *gin.RouterGroup) {}
