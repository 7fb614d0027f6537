package ldapsync

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// Op is what a run does (or, in a dry run, would do) to one user.
type Op string

// The per-user operations of a Plan.
const (
	// OpCreate creates a user for a directory entry no user has yet.
	OpCreate Op = "create"
	// OpUpdate changes the fields whose directory value changed.
	OpUpdate Op = "update"
	// OpDeactivate sets a user inactive: the entry is disabled, or a
	// complete full read no longer returned it. Never a delete.
	OpDeactivate Op = "deactivate"
	// OpReactivate sets active again a user the sync itself deactivated.
	OpReactivate Op = "reactivate"
	// OpConflict is an entry the sync may not write: its userName, email,
	// extension or external id belongs to a user another source (or
	// another user) has. Nothing is merged; an admin decides.
	OpConflict Op = "conflict"
	// OpError is an entry (or part of one) the library refused, e.g. an
	// extension outside the tenant's number plan.
	OpError Op = "error"
)

// Action is one line of a Plan: one user and what happens to it.
type Action struct {
	// Op is what happens.
	Op Op `json:"op"`
	// UserID is the pbxusers user, empty for a create in a dry run or a
	// conflict.
	UserID string `json:"userId,omitempty"`
	// ExternalID is the directory's stable id (objectGUID, entryUUID).
	ExternalID string `json:"externalId"`
	// UserName is the login name.
	UserName string `json:"userName,omitempty"`
	// DN is the entry's DN; empty for users the read did not return.
	DN string `json:"dn,omitempty"`
	// Fields are the user fields set (create) or changed (update, and the
	// fields that changed alongside a reactivation), e.g. "emails",
	// "name.given", "teams".
	Fields []string `json:"fields,omitempty"`
	// Reason says why: "disabled in the directory", "missing from the
	// directory", or the conflict or error message.
	Reason string `json:"reason,omitempty"`
	// Withheld marks a deactivation a safety guard stopped (see
	// Plan.Blocked); it was not applied.
	Withheld bool `json:"withheld,omitempty"`
}

// Counts are a run's totals per outcome.
type Counts struct {
	// Read is how many entries the read returned.
	Read int `json:"read"`
	// Created, Updated, Deactivated and Reactivated count users written
	// (in a dry run: that would be written).
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deactivated int `json:"deactivated"`
	Reactivated int `json:"reactivated"`
	// Unchanged counts entries whose user needed no change.
	Unchanged int `json:"unchanged"`
	// Withheld counts deactivations a guard stopped.
	Withheld int `json:"withheld"`
	// Conflicts and Errors count entries (and problems) reported.
	Conflicts int `json:"conflicts"`
	Errors    int `json:"errors"`
	// SkippedDisabled counts disabled entries that have no user: the sync
	// does not create users for disabled accounts.
	SkippedDisabled int `json:"skippedDisabled"`
	// Remapped counts entries whose user was last synced with another
	// attribute mapping or other groupMappings (or by an older version of
	// this package): they are looked at again even when the entry did not
	// change, so the new mapping reaches them.
	Remapped int `json:"remapped"`
}

// Plan is what a run did, or in a dry run would do: the totals and the
// action for every user it touched (unchanged users are only counted).
// Marshal it as JSON for machines; WriteTable prints it for people.
type Plan struct {
	// Tenant and Directory name the directory (Config.Tenant, Config.Name).
	Tenant    string `json:"tenant"`
	Directory string `json:"directory"`
	// Mode is "full" or "incremental".
	Mode string `json:"mode"`
	// DryRun is true when nothing was written.
	DryRun bool `json:"dryRun,omitempty"`
	// Forced is true when the run was allowed past the deactivation guards
	// (RunOptions.Force or Config.Force).
	Forced bool `json:"forced,omitempty"`
	// Status is the run's outcome: succeeded, blocked or failed.
	Status pbxusers.SyncStatus `json:"status"`
	// Message explains a blocked or failed run and what to do next.
	Message string `json:"message,omitempty"`
	// Blocked is the guard that withheld deactivations, "" if none did.
	Blocked string `json:"blocked,omitempty"`
	// MappingChanged is true when the run found users last synced with
	// another attribute mapping or other groupMappings (Counts.Remapped).
	// A full run applies the new mapping to every user; a run that would
	// have been incremental reads everything when it finds the mapping
	// changed.
	MappingChanged bool `json:"mappingChanged,omitempty"`
	// Counts are the totals.
	Counts Counts `json:"counts"`
	// Actions lists every user the run touched, in the order it got to
	// them, up to RunOptions.MaxActionsN.
	Actions []Action `json:"actions,omitempty"`
	// ActionsOmitted is how many actions did not fit in Actions.
	ActionsOmitted int `json:"actionsOmitted,omitempty"`
	// Errors are problems that concern the run rather than one user (an
	// unknown profile name, the read failing), in the order they happened.
	Errors []string `json:"errors,omitempty"`
}

// WriteTable prints the plan for people: a header line, one row per action
// and the totals, then the message of a blocked or failed run.
func (p *Plan) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	what := "sync"
	if p.DryRun {
		what = "dry run (nothing written)"
	}
	ew.printf("ldap directory %s of tenant %s: %s read, %s\n", p.Directory, p.Tenant, p.Mode, what)
	if len(p.Actions) > 0 {
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTION\tUSER\tEXTERNAL ID\tDETAILS")
		for _, a := range p.Actions {
			op := string(a.Op)
			if a.Withheld {
				op += " (withheld)"
			}
			details := a.Reason
			if len(a.Fields) > 0 {
				if details != "" {
					details += "; "
				}
				details += strings.Join(a.Fields, ", ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", op, orDash(a.UserName), orDash(a.ExternalID), oneLine(details))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if p.ActionsOmitted > 0 {
			ew.printf("... and %d more actions not listed\n", p.ActionsOmitted)
		}
	}
	c := p.Counts
	ew.printf("read %d, created %d, updated %d, deactivated %d, reactivated %d, unchanged %d",
		c.Read, c.Created, c.Updated, c.Deactivated, c.Reactivated, c.Unchanged)
	if c.Withheld > 0 {
		ew.printf(", withheld %d", c.Withheld)
	}
	if c.SkippedDisabled > 0 {
		ew.printf(", disabled and not created %d", c.SkippedDisabled)
	}
	ew.printf(", conflicts %d, errors %d\n", c.Conflicts, c.Errors)
	if p.MappingChanged {
		ew.printf("mapping changed: %d users were last synced with another attribute mapping or groupMappings; "+
			"the new mapping is applied to them\n", c.Remapped)
	}
	for _, e := range p.Errors {
		ew.printf("error: %s\n", oneLine(e))
	}
	ew.printf("status: %s\n", p.Status)
	if p.Message != "" {
		ew.printf("%s\n", p.Message)
	}
	return ew.err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errWriter remembers the first write error, so a printer can check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
