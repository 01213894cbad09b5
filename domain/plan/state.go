package plan

import (
	"slices"

	"github.com/apiq/apiq/domain"
)

// State is a plan folded from its events: who asked for it, its immutable
// versions, and whether one was confirmed or the plan rejected.
type State struct {
	Exists bool
	ID     string
	// RequestedBy is the user who asked for the plan.
	RequestedBy   string
	ConnectionIDs []string
	// Versions are numbered from 1, in order.
	Versions []Version
	// Confirmed is the confirmed version's number (0: none).
	Confirmed   int
	ConfirmedBy string
	Rejected    bool
	RejectedBy  string
}

// Version is one immutable version of a plan: what was asked for it, by
// whom, and its outcome.
type Version struct {
	Number int
	Prompt string
	// RequestedBy asked for this version (the plan's requester for the
	// first, a reviser for later ones).
	RequestedBy string
	// BasedOn is the version this one revises (0 for the first).
	BasedOn int
	// Status is "" until the outcome is recorded.
	Status  Status
	Outcome Outcome
}

// Latest returns the plan's newest version.
func (s State) Latest() (Version, bool) {
	if len(s.Versions) == 0 {
		return Version{}, false
	}
	return s.Versions[len(s.Versions)-1], true
}

// Version returns version n.
func (s State) Version(n int) (Version, bool) {
	if n < 1 || n > len(s.Versions) {
		return Version{}, false
	}
	return s.Versions[n-1], true
}

// Status is the plan's status: rejected or confirmed once it is, the
// latest version's status otherwise.
func (s State) Status() Status {
	switch {
	case s.Rejected:
		return StatusRejected
	case s.Confirmed > 0:
		return StatusConfirmed
	}
	latest, _ := s.Latest()
	return latest.Status
}

// Requesters lists who asked for the plan and for each of its versions up
// to version n, without repeats.
func (s State) Requesters(n int) []string {
	out := []string{s.RequestedBy}
	for _, v := range s.Versions {
		if v.Number <= n && !slices.Contains(out, v.RequestedBy) {
			out = append(out, v.RequestedBy)
		}
	}
	return out
}

// Evolve folds one event into the state without changing s.
func Evolve(s State, ev domain.Event) State {
	switch e := ev.(type) {
	case Requested:
		return State{Exists: true, ID: e.PlanID, RequestedBy: e.RequestedBy, ConnectionIDs: slices.Clone(e.ConnectionIDs),
			Versions: []Version{{Number: 1, Prompt: e.Prompt, RequestedBy: e.RequestedBy}}}
	case Revised:
		s.Versions = append(slices.Clip(s.Versions), Version{Number: e.Version, Prompt: e.Prompt, RequestedBy: e.RequestedBy, BasedOn: e.BasedOn})
	case Proposed, Failed, NoSuitableEndpoint:
		status, o := e.(outcomeEvent).outcome()
		if o.Version >= 1 && o.Version <= len(s.Versions) {
			s.Versions = slices.Clone(s.Versions)
			s.Versions[o.Version-1].Status, s.Versions[o.Version-1].Outcome = status, o
		}
	case Confirmed:
		s.Confirmed, s.ConfirmedBy = e.Version, e.ConfirmedBy
	case Rejected:
		s.Rejected, s.RejectedBy = true, e.RejectedBy
	}
	return s
}
