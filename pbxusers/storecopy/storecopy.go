package storecopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// DefaultBatchN is how many objects one target transaction writes unless
// Options.BatchN says otherwise.
const DefaultBatchN = 500

// Kind names one kind of object the copy carries over and checksums.
type Kind string

// The kinds, in the order they are copied (each after what it refers to).
const (
	KindTenants    Kind = "tenants"
	KindProfiles   Kind = "profiles"
	KindTimeFrames Kind = "timeframes"
	KindTeams      Kind = "teams"
	KindUsers      Kind = "users"
	KindDevices    Kind = "devices"
	KindNumbers    Kind = "numbers"
	KindTokens     Kind = "tokens"
	KindWebhooks   Kind = "webhooks"
	KindChanges    Kind = "changes"
	KindMail       Kind = "mail"
	KindSyncRuns   Kind = "syncRuns"
	KindSyncState  Kind = "syncState"
)

// Kinds lists every kind in copy order.
var Kinds = []Kind{KindTenants, KindProfiles, KindTimeFrames, KindTeams, KindUsers, KindDevices,
	KindNumbers, KindTokens, KindWebhooks, KindChanges, KindMail, KindSyncRuns, KindSyncState}

// Errors Copy returns; test them with errors.Is.
var (
	// ErrTargetNotEmpty: the target already has tenants. The copy never
	// merges into an installation.
	ErrTargetNotEmpty = errors.New("the target database is not empty")
	// ErrMismatch: a count or checksum read back from the target differs
	// from the source's.
	ErrMismatch = errors.New("the copy differs from the source")
	// ErrNumbering: the target cannot hand out the source's change seqs,
	// outbox ids or sync run ids (it used them already, or its numbering
	// cannot skip the source's gaps).
	ErrNumbering = errors.New("the target cannot keep the source's numbering")
)

// Directory names an LDAP directory of a tenant, whose sync state the copy
// looks up.
type Directory struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
}

// Progress reports how far a copy is: Phase is "copy" (reading the source
// and writing the target) or "verify" (reading the target back). Total is 0
// when it is not known in advance.
type Progress struct {
	Phase string
	Kind  Kind
	Done  int
	Total int
}

// Options tune Copy. The zero value is usable.
type Options struct {
	// BatchN is how many objects one Update of the target writes. Default
	// DefaultBatchN (500); at most pbxusers.MaxPageSize objects are read
	// per query whatever it is.
	BatchN int
	// Directories are LDAP directories whose sync state to copy besides
	// those the sync history names (a directory's state is only reachable
	// by name). The binary passes its configured ldap.directories.
	Directories []Directory
	// Progress, when set, is called as objects are copied and verified.
	Progress func(Progress)
}

// Sum is the count and SHA-256 checksum of one kind of object in one store:
// the hash of the canonical JSON of every object, one per line, in a stable
// order (ids; change seqs, message ids and run ids for the numbered kinds).
type Sum struct {
	N      int    `json:"count"`
	SHA256 string `json:"sha256"`
}

// KindReport compares one kind between source and target.
type KindReport struct {
	Kind   Kind `json:"kind"`
	Source Sum  `json:"source"`
	Target Sum  `json:"target"`
}

// Equal reports whether target and source have the same count and checksum.
func (k KindReport) Equal() bool { return k.Source == k.Target }

// Report is what Copy did and found.
type Report struct {
	// Kinds has one entry per kind, in copy order. The source's sums are
	// taken while it is copied, the target's by reading it back afterwards.
	Kinds []KindReport `json:"kinds"`
	// Skipped lists, one sentence each, what the copy did not carry over
	// and why. It always names the set-password links.
	Skipped []string `json:"skipped"`
	// Took is how long the copy and the verification took.
	Took time.Duration `json:"took"`
}

// Equal reports whether every kind has the same count and checksum on both
// sides.
func (r Report) Equal() bool {
	return len(r.Kinds) > 0 && !slices.ContainsFunc(r.Kinds, func(k KindReport) bool { return !k.Equal() })
}

// Differs returns the kinds whose count or checksum differ.
func (r Report) Differs() []Kind {
	var out []Kind
	for _, k := range r.Kinds {
		if !k.Equal() {
			out = append(out, k.Kind)
		}
	}
	return out
}

// WriteText writes the report as a table: per kind the counts of both
// sides, the first 16 hex digits of both checksums and whether they match,
// then what was not copied.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSOURCE\tTARGET\tSHA-256 SOURCE\tSHA-256 TARGET\tRESULT")
	for _, k := range r.Kinds {
		result := "ok"
		if !k.Equal() {
			result = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", k.Kind, k.Source.N, k.Target.N, short(k.Source.SHA256), short(k.Target.SHA256), result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Skipped) > 0 {
		if _, err := fmt.Fprintf(w, "\nNot copied:\n  - %s\n", strings.Join(r.Skipped, "\n  - ")); err != nil {
			return err
		}
	}
	return nil
}

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16]
	}
	return sum
}

// Copy copies everything from reaches through the pbxusers.Tx interface
// into to, which must have no tenants, then reads to back and compares
// counts and checksums per kind. It returns the report with an error
// wrapping ErrMismatch when any kind differs, ErrTargetNotEmpty when to
// already has tenants, and ErrNumbering when to cannot take the source's
// change seqs, outbox ids or sync run ids.
//
// Copied, with ids, versions and timestamps as they are: tenants, profiles,
// time frames, teams, users (with password hashes, profile, team and queue
// memberships, managers, routing), devices (with their SIP secrets),
// numbers, API tokens (hashes), webhooks (with their signing secrets and
// delivery positions: change seqs are kept), the change log, the mail
// outbox with every delivery attempt, sync runs, and the sync state of every directory the
// sync history or opts.Directories names.
//
// Not copied, because the Tx interface cannot list them or they belong to
// running processes: set-password links (SetupToken: found by id only; the
// links already mailed stop working on the target, send new ones with a
// resend), leases (a lease belongs to a running process), and the worker
// lease on outbox messages being sent and on webhooks being delivered to
// (claimedBy/claimedUntil: the target's workers take them up when due). Mail claims are left out of the checksum
// for that reason, and Report.Skipped says how many there were.
//
// Copy the installation while no gateway writes to it: the source is read
// in one snapshot, and anything written after it is not copied.
func Copy(ctx context.Context, from, to pbxusers.Store, opts Options) (Report, error) {
	start := time.Now()
	if opts.BatchN <= 0 {
		opts.BatchN = DefaultBatchN
	}
	if err := checkEmpty(ctx, to); err != nil {
		return Report{}, err
	}
	c := &copier{ctx: ctx, to: to, opts: opts}
	var srcSums map[Kind]Sum
	var skipped []string
	err := from.View(ctx, func(tx pbxusers.Tx) error {
		r, err := newReader(ctx, tx, opts)
		if err != nil {
			return err
		}
		h := newHasher()
		if err := c.run(r, h); err != nil {
			return err
		}
		srcSums = h.sums()
		skipped = r.skipped()
		return nil
	})
	if err != nil {
		return Report{}, err
	}
	dstSums, err := Checksums(ctx, to, opts)
	if err != nil {
		return Report{}, fmt.Errorf("read the target back: %w", err)
	}
	rep := Report{Skipped: skipped, Took: time.Since(start)}
	for _, k := range Kinds {
		rep.Kinds = append(rep.Kinds, KindReport{Kind: k, Source: srcSums[k], Target: dstSums[k]})
	}
	if !rep.Equal() {
		return rep, fmt.Errorf("%w: %s", ErrMismatch, joinKinds(rep.Differs()))
	}
	return rep, nil
}

// Checksums reads every kind of object of s, in one snapshot, and returns
// its count and checksum per kind, computed as Copy computes them. opts
// supplies Directories (and Progress, with phase "verify").
func Checksums(ctx context.Context, s pbxusers.Store, opts Options) (map[Kind]Sum, error) {
	var out map[Kind]Sum
	err := s.View(ctx, func(tx pbxusers.Tx) error {
		r, err := newReader(ctx, tx, opts)
		if err != nil {
			return err
		}
		r.phase = "verify"
		h := newHasher()
		if err := r.each(h, nil); err != nil {
			return err
		}
		out = h.sums()
		return nil
	})
	return out, err
}

func joinKinds(ks []Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// checkEmpty refuses a target that has tenants.
func checkEmpty(ctx context.Context, to pbxusers.Store) error {
	return to.View(ctx, func(tx pbxusers.Tx) error {
		tns, err := tx.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("list the target's tenants: %w", err)
		}
		if len(tns) > 0 {
			ids := make([]string, 0, min(len(tns), 5))
			for _, t := range tns[:min(len(tns), 5)] {
				ids = append(ids, t.ID)
			}
			more := ""
			if len(tns) > 5 {
				more = fmt.Sprintf(" and %d more", len(tns)-5)
			}
			return fmt.Errorf("%w: it has %d tenant(s) (%s%s)", ErrTargetNotEmpty, len(tns), strings.Join(ids, ", "), more)
		}
		return nil
	})
}
