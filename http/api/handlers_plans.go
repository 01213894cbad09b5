package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/apiq/apiq/http/auth"
)

func (s *server) listPlans(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	limit, _ := strconv.Atoi(c.Query("limit")) // validated against the document
	list, next, err := s.deps.Plans.ListPlans(c.Request.Context(), p.TenantID, PlanFilter{
		Status: c.Query("status"), RequestedBy: c.Query("requested_by"), ConnectionID: c.Query("connection_id"),
		Page: Page{Limit: limit, After: c.Query("after")},
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []PlanSummary{}
	}
	body := gin.H{"plans": list}
	if next != "" {
		body["next"] = next
	}
	c.JSON(http.StatusOK, body)
}

func (s *server) getPlan(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	transcripts, _ := strconv.ParseBool(c.Query("transcripts")) // validated against the document
	pl, err := s.deps.Plans.GetPlan(c.Request.Context(), p.TenantID, c.Param("id"), transcripts)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *server) createPlan(c *gin.Context) {
	var in NewPlan
	if !decode(c, &in) {
		return
	}
	pl, err := s.deps.Plans.CreatePlan(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, pl)
}

func (s *server) confirmPlan(c *gin.Context) {
	var in struct {
		Version int `json:"version"`
	}
	if !decodeOptional(c, &in) {
		return
	}
	pl, err := s.deps.Plans.ConfirmPlan(c.Request.Context(), s.metadata(c), c.Param("id"), in.Version)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *server) rejectPlan(c *gin.Context) {
	var in struct {
		Reason string `json:"reason"`
	}
	if !decode(c, &in) {
		return
	}
	pl, err := s.deps.Plans.RejectPlan(c.Request.Context(), s.metadata(c), c.Param("id"), in.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *server) revisePlan(c *gin.Context) {
	var in struct {
		Prompt string `json:"prompt"`
	}
	if !decode(c, &in) {
		return
	}
	pl, err := s.deps.Plans.RevisePlan(c.Request.Context(), s.metadata(c), c.Param("id"), in.Prompt)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, pl)
}

func (s *server) planUsage(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	u, err := s.deps.Plans.PlanUsage(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

func (s *server) planSettings(c *gin.Context) {
	p, _ := auth.PrincipalFrom(c)
	settings, err := s.deps.Plans.PlanSettings(c.Request.Context(), p.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, settings)
}

func (s *server) setPlanSettings(c *gin.Context) {
	var in PlanSettings
	if !decode(c, &in) {
		return
	}
	settings, err := s.deps.Plans.SetPlanSettings(c.Request.Context(), s.metadata(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, settings)
}
