package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/health"
)

func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *server) readyz(c *gin.Context) {
	report := health.Run(c.Request.Context(), s.cfg.ReadinessTimeout, s.deps.Readiness)
	status, word := http.StatusOK, "ready"
	if !report.Ready {
		status, word = http.StatusServiceUnavailable, "not_ready"
	}
	c.JSON(status, gin.H{"status": word, "checks": report.Checks})
}

func (s *server) metrics(c *gin.Context) {
	s.metricsHTTP.ServeHTTP(c.Writer, c.Request)
}

func (s *server) openapiDocument(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", s.deps.Document.JSON())
}

func (s *server) apiReference(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.docsPage)
}
