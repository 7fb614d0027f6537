package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// DefaultSampleN is how many entries Test shows mapped.
const DefaultSampleN = 5

// TestReport is what Syncer.Test found out, for `pbxgate ldap test`.
type TestReport struct {
	// Tenant, Directory, URL and BindDN say what was tested.
	Tenant    string `json:"tenant"`
	Directory string `json:"directory"`
	URL       string `json:"url"`
	BindDN    string `json:"bindDN"`
	// Connected is true when the bind succeeded.
	Connected bool `json:"connected"`
	// Complete is true when a full read went through; a sync could then
	// deactivate users missing from it.
	Complete bool `json:"complete"`
	// Users, Disabled and Groups count what the read returned.
	Users    int `json:"users"`
	Disabled int `json:"disabled"`
	Groups   int `json:"groups"`
	// WithoutEmail and WithoutExtension count users lacking them: users
	// without an address get no welcome mail.
	WithoutEmail     int `json:"withoutEmail"`
	WithoutExtension int `json:"withoutExtension"`
	// Duration is how long the read took.
	Duration time.Duration `json:"duration"`
	// Samples are the first entries read, as the sync would map them.
	Samples []Sample `json:"samples,omitempty"`
	// Problems are what would stop or spoil a sync: the read failing,
	// unknown profiles or teams, values the library would refuse.
	Problems []string `json:"problems,omitempty"`
}

// Sample is one entry as the sync would map it.
type Sample struct {
	// Entry is the entry as read.
	Entry Entry `json:"entry"`
	// Profiles and Teams are the names its groups map to.
	Profiles []string `json:"profiles,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	// Problems are values the sync would leave out.
	Problems []string `json:"problems,omitempty"`
}

// Test binds to the directory, reads every user (writing nothing, taking no
// lease) and shows how the first DefaultSampleN would be mapped, with the
// problems a sync would meet. The error is the connect or read failure; the
// report says how far it got.
func (s *Syncer) Test(ctx context.Context) (TestReport, error) {
	cfg := s.cfg
	rep := TestReport{Tenant: cfg.Tenant, Directory: cfg.Name, URL: cfg.URL, BindDN: cfg.BindDN}
	region := ""
	if tn, err := s.dir.GetTenant(ctx, cfg.Tenant); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("tenant %q: %v", cfg.Tenant, err))
	} else {
		region = tn.Region
	}
	c, err := Connect(ctx, cfg, s.opts.Logger)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, err
	}
	defer c.Close()
	rep.Connected = true

	unknown := map[string]bool{}
	check := func(kind, name string) {
		key := kind + " " + strings.ToLower(name)
		if _, done := unknown[key]; done {
			return
		}
		var err error
		if kind == "profile" {
			_, err = s.dir.LookupProfile(ctx, cfg.Tenant, name)
		} else {
			_, err = s.dir.LookupTeam(ctx, cfg.Tenant, pbxusers.TeamKeyName, name)
		}
		unknown[key] = err != nil
		if errors.Is(err, pbxusers.ErrNotFound) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %q in groupMappings does not exist in tenant %q", kind, name, cfg.Tenant))
		} else if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("look up %s %q: %v", kind, name, err))
		}
	}
	for _, m := range cfg.GroupMappings {
		for _, p := range m.Profiles {
			check("profile", p)
		}
		for _, t := range m.Teams {
			check("team", t)
		}
	}

	res, err := c.ReadUsers(ctx, Full(), func(e Entry) error {
		if len(e.Emails) == 0 {
			rep.WithoutEmail++
		}
		if e.Extension == "" {
			rep.WithoutExtension++
		}
		if len(rep.Samples) < DefaultSampleN {
			sm := Sample{Entry: e}
			sm.Profiles, sm.Teams = cfg.MapGroups(e.Groups)
			sm.Problems = sampleProblems(&e, region)
			rep.Samples = append(rep.Samples, sm)
		}
		return nil
	})
	rep.Users, rep.Disabled, rep.Groups, rep.Duration, rep.Complete = res.Entries, res.Disabled, res.Groups, res.Duration, res.Complete
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, err
	}
	if res.Entries == 0 {
		rep.Problems = append(rep.Problems, "the read returned no users: check baseDN, userBaseDN and userFilter")
	}
	return rep, nil
}

// sampleProblems lists the values of e a sync would leave out.
func sampleProblems(e *Entry, region string) []string {
	var out []string
	if e.UserName == "" {
		out = append(out, "no user name: the user cannot be created")
	} else if strings.ContainsAny(e.UserName, " \t") {
		out = append(out, fmt.Sprintf("user name %q contains spaces: the user cannot be created", e.UserName))
	}
	for _, v := range e.Emails {
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
			out = append(out, fmt.Sprintf("mail %q is not an email address", v))
		}
	}
	if e.Extension != "" && strings.Trim(e.Extension, "0123456789") != "" {
		out = append(out, fmt.Sprintf("extension %q is not digits only", e.Extension))
	}
	for _, v := range append(append([]string(nil), e.Phones.Work...), e.Phones.Mobile...) {
		if _, _, err := pbxusers.NormalizeE164(v, region); err != nil {
			out = append(out, fmt.Sprintf("phone %q: %v", v, err))
		}
	}
	return out
}

// WriteText prints the report for people.
func (r *TestReport) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("ldap directory %s of tenant %s: %s as %s\n", r.Directory, r.Tenant, r.URL, r.BindDN)
	if !r.Connected {
		ew.printf("bind: FAILED\n")
	} else {
		ew.printf("bind: ok\n")
		state := "complete"
		if !r.Complete {
			state = "INCOMPLETE (a sync would not deactivate anyone)"
		}
		ew.printf("read: %s in %s: %d users (%d disabled), %d groups; %d without email, %d without extension\n",
			state, r.Duration.Round(time.Millisecond), r.Users, r.Disabled, r.Groups, r.WithoutEmail, r.WithoutExtension)
	}
	for i, sm := range r.Samples {
		e := sm.Entry
		ew.printf("\nsample %d: %s\n", i+1, e.DN)
		row := func(k, v string) {
			if v != "" {
				ew.printf("  %-12s %s\n", k, v)
			}
		}
		row("externalId", e.ExternalID)
		row("userName", e.UserName)
		row("name", strings.TrimSpace(e.GivenName+" "+e.FamilyName))
		row("displayName", e.DisplayName)
		row("emails", strings.Join(e.Emails, ", "))
		row("extension", e.Extension)
		row("work", strings.Join(e.Phones.Work, ", "))
		row("mobile", strings.Join(e.Phones.Mobile, ", "))
		row("title", e.Title)
		row("department", e.Department)
		row("location", e.Location)
		row("language", e.Language)
		row("manager", e.ManagerDN)
		if e.Disabled {
			row("disabled", "yes")
		}
		row("groups", strings.Join(e.Groups, "; "))
		row("profiles", strings.Join(sm.Profiles, ", "))
		row("teams", strings.Join(sm.Teams, ", "))
		for _, p := range sm.Problems {
			row("problem", p)
		}
	}
	if len(r.Problems) > 0 {
		ew.printf("\nproblems:\n")
		for _, p := range r.Problems {
			ew.printf("  - %s\n", oneLine(p))
		}
	}
	return ew.err
}
