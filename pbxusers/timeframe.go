package pbxusers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	// Embed the IANA zone database so time zones load on hosts without
	// zoneinfo (containers, Windows).
	_ "time/tzdata"
)

// ClockTime is a civil time of day, in minutes after midnight: 0 is 00:00,
// 1440 is 24:00 (allowed only as the end of a window). It is written to and
// read from JSON as "HH:MM".
type ClockTime int

// minutesPerDay is 24:00 as a ClockTime.
const minutesPerDay = 24 * 60

// ClockAt returns the ClockTime hour:minute.
func ClockAt(hour, minute int) ClockTime { return ClockTime(hour*60 + minute) }

// String formats c as "HH:MM"; out-of-range values as "invalid(N)".
func (c ClockTime) String() string {
	b, err := c.MarshalText()
	if err != nil {
		return "invalid(" + strconv.Itoa(int(c)) + ")"
	}
	return string(b)
}

// MarshalText formats c as "HH:MM".
func (c ClockTime) MarshalText() ([]byte, error) {
	if c < 0 || c > minutesPerDay {
		return nil, fmt.Errorf("clock time %d out of range: %w", int(c), ErrInvalid)
	}
	h, m := int(c)/60, int(c)%60
	return []byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)}, nil
}

// UnmarshalText parses "HH:MM" (or "H:MM") from 00:00 to 24:00.
func (c *ClockTime) UnmarshalText(b []byte) error {
	s := string(b)
	i := len(s) - 3
	if i < 1 || i > 2 || s[i] != ':' || !digitsOnly(s[:i]) || !digitsOnly(s[i+1:]) {
		return fmt.Errorf("parse clock time %q: want HH:MM: %w", s, ErrInvalid)
	}
	h, _ := strconv.Atoi(s[:i])
	m, _ := strconv.Atoi(s[i+1:])
	v := ClockTime(h*60 + m)
	if m > 59 || v > minutesPerDay {
		return fmt.Errorf("parse clock time %q: out of range: %w", s, ErrInvalid)
	}
	*c = v
	return nil
}

// Observance says on which day a holiday that falls on a weekend is
// observed. Workdays are Monday to Friday.
type Observance string

// Observances. The zero value "" means ObserveNone.
const (
	// ObserveNone observes the holiday on its date.
	ObserveNone Observance = "none"
	// ObserveNextWorkday moves a weekend holiday to the next Monday.
	ObserveNextWorkday Observance = "next_workday"
	// ObservePriorWorkday moves a weekend holiday to the prior Friday.
	ObservePriorWorkday Observance = "prior_workday"
	// ObserveNearestWorkday moves a Saturday holiday to Friday and a Sunday
	// holiday to Monday (US federal rule).
	ObserveNearestWorkday Observance = "nearest_workday"
)

// Weekly is a window on some days of every week, in wall-clock time,
// half-open [From, To). When To is at or before From the window wraps past
// midnight, and the part after midnight belongs to the next day: Friday
// 22:00–06:00 covers Saturday 03:00. From == To == 00:00 is the whole day.
type Weekly struct {
	// Days are the days the window starts on (0 = Sunday … 6 = Saturday).
	Days []time.Weekday `json:"days,omitempty"`
	// From is when the window opens, 00:00–23:59.
	From ClockTime `json:"from,omitempty"`
	// To is when it closes, 00:00–24:00.
	To ClockTime `json:"to,omitempty"`
}

// DateRange is a span of civil (wall-clock) time, half-open [From, To).
// Values are "YYYY-MM-DDTHH:MM" or "YYYY-MM-DD" (midnight), read in the
// frame's zone when the call is evaluated, never converted at save time.
type DateRange struct {
	// From is the first instant in the range.
	From string `json:"from,omitempty"`
	// To is the first instant after the range; later than From.
	To string `json:"to,omitempty"`
}

// NthWeekday is a day given as the nth weekday of a month, e.g. the fourth
// Thursday of November.
type NthWeekday struct {
	// Month is 1–12.
	Month time.Month `json:"month,omitempty"`
	// Week is 1–5, or -1 for the last. A fifth weekday that does not exist
	// in a year makes no holiday that year.
	Week int `json:"week,omitempty"`
	// Weekday is 0 (Sunday) to 6 (Saturday).
	Weekday time.Weekday `json:"weekday,omitempty"`
}

// Holiday is a recurring or explicit holiday. Exactly one of Fixed, Nth
// and Dates is set.
type Holiday struct {
	// Name is shown to people, e.g. "Christmas Day".
	Name string `json:"name,omitempty"`
	// Fixed is the same date every year, "MM-DD".
	Fixed string `json:"fixed,omitempty"`
	// Nth is the nth weekday of a month every year.
	Nth *NthWeekday `json:"nth,omitempty"`
	// Dates are explicit dates, "YYYY-MM-DD" (Easter-based holidays).
	Dates []string `json:"dates,omitempty"`
	// Observance moves a holiday that falls on a weekend. The observed day
	// replaces the date. Default none.
	Observance Observance `json:"observance,omitempty"`
	// From limits the holiday to a window of the observed day, with the
	// same rules as Weekly. From and To both zero: the whole day.
	From ClockTime `json:"from,omitempty"`
	// To is when the window closes (see From).
	To ClockTime `json:"to,omitempty"`
}

// TimeFrameEntry is one piece of a time frame. Exactly one field is set.
type TimeFrameEntry struct {
	// Always matches at any time.
	Always bool `json:"always,omitempty"`
	// Weekly matches a window on some weekdays.
	Weekly *Weekly `json:"weekly,omitempty"`
	// DateRange matches a span of civil date-time.
	DateRange *DateRange `json:"dateRange,omitempty"`
	// Holiday matches a holiday, or a window of it.
	Holiday *Holiday `json:"holiday,omitempty"`
}

// TimeFrame is a named set of times that answering rules refer to, such
// as business hours or holidays. A time t is in the frame when it is in any
// entry of Entries and in no entry of Except ("business hours minus
// holidays"). Every entry is civil wall-clock time in the frame's zone, so
// frames follow daylight saving time changes.
type TimeFrame struct {
	// ID identifies the frame. Required.
	ID string `json:"id,omitempty"`
	// Name is shown to people and in traces. Optional: the id is used
	// instead.
	Name string `json:"name,omitempty"`
	// TimeZone is the IANA zone the entries are read in. Empty: the zone of
	// the user whose rule is evaluated.
	TimeZone string `json:"timeZone,omitempty"`
	// Location is TimeZone loaded (see Loaded). Resolve needs it whenever
	// TimeZone is set and never loads zones itself.
	Location *time.Location `json:"-"`
	// Entries are ORed. At least one.
	Entries []TimeFrameEntry `json:"entries,omitempty"`
	// Except are subtracted from Entries.
	Except []TimeFrameEntry `json:"except,omitempty"`
}

// label is how traces name the frame.
func (tf *TimeFrame) label() string {
	if tf.Name != "" {
		return tf.Name
	}
	return tf.ID
}

// Loaded returns a copy of tf whose Location is its TimeZone loaded, or
// nil when TimeZone is empty. Callers load frames once and cache them.
func (tf TimeFrame) Loaded() (TimeFrame, error) {
	tf.Location = nil
	if tf.TimeZone == "" {
		return tf, nil
	}
	loc, err := loadFrameZone(tf.TimeZone)
	if err != nil {
		return tf, fmt.Errorf("load time zone of time frame %q: %w", tf.ID, err)
	}
	tf.Location = loc
	return tf, nil
}

// loadFrameZone loads an IANA zone, refusing "Local", which depends on the host.
func loadFrameZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the host: %w", name, ErrInvalid)
	}
	return time.LoadLocation(name)
}

// Contains reports whether t falls in the frame. The frame is read in its
// own Location when set, else in loc (the user's zone; nil means UTC). A
// frame whose TimeZone is set but not loaded is read in loc: call Loaded
// first. Contains does not allocate.
func (tf TimeFrame) Contains(t time.Time, loc *time.Location) bool {
	if tf.Location != nil {
		loc = tf.Location
	}
	w := wallOf(t, loc)
	return tf.containsWall(&w)
}

// containsWall reports whether the wall-clock time is in the frame.
func (tf *TimeFrame) containsWall(w *wallClock) bool {
	in := false
	for i := range tf.Entries {
		if tf.Entries[i].contains(w) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for i := range tf.Except {
		if tf.Except[i].contains(w) {
			return false
		}
	}
	return true
}

// contains reports whether the wall-clock time is in the entry.
func (e *TimeFrameEntry) contains(w *wallClock) bool {
	switch {
	case e.Always:
		return true
	case e.Weekly != nil:
		return e.Weekly.contains(w)
	case e.DateRange != nil:
		return e.DateRange.contains(w)
	case e.Holiday != nil:
		return e.Holiday.contains(w)
	}
	return false
}

func (e *Weekly) contains(w *wallClock) bool {
	from, to := int(e.From), int(e.To)
	if from < to {
		return w.minute >= from && w.minute < to && e.on(w.days)
	}
	if w.minute >= from && e.on(w.days) {
		return true
	}
	return w.minute < to && e.on(w.days-1)
}

// on reports whether the window starts on the given day.
func (e *Weekly) on(days int) bool {
	wd := weekdayOf(days)
	for _, d := range e.Days {
		if d == wd {
			return true
		}
	}
	return false
}

func (e *DateRange) contains(w *wallClock) bool {
	from, ok1 := parseCivil(e.From)
	to, ok2 := parseCivil(e.To)
	k := w.key()
	return ok1 && ok2 && k >= from && k < to
}

func (h *Holiday) contains(w *wallClock) bool {
	from, to := int(h.From), int(h.To)
	if from < to {
		return w.minute >= from && w.minute < to && h.on(w.days, w.y, w.m, w.d)
	}
	if w.minute >= from && h.on(w.days, w.y, w.m, w.d) {
		return true
	}
	if w.minute >= to {
		return false
	}
	y, m, d := civilFromDays(w.days - 1)
	return h.on(w.days-1, y, m, d)
}

// on reports whether the holiday is observed on the given day, which is
// the date y-m-d.
func (h *Holiday) on(days, y, m, d int) bool {
	if h.onYear(y, days) {
		return true
	}
	// Observance moves a day by at most two, possibly across New Year.
	if h.Observance == "" || h.Observance == ObserveNone {
		return false
	}
	switch {
	case m == 1 && d <= 3:
		return h.onYear(y-1, days)
	case m == 12 && d >= 29:
		return h.onYear(y+1, days)
	}
	return false
}

// onYear reports whether the holiday of year y is observed on the day.
func (h *Holiday) onYear(y, days int) bool {
	switch {
	case h.Fixed != "":
		m, d, ok := parseMonthDay(h.Fixed)
		if !ok || d > daysInMonth(m, y) {
			return false
		}
		return h.observe(daysFromCivil(y, m, d)) == days
	case h.Nth != nil:
		a, ok := nthWeekday(y, h.Nth)
		return ok && h.observe(a) == days
	default:
		for _, s := range h.Dates {
			dy, m, d, ok := parseCivilDate(s)
			if ok && dy == y && h.observe(daysFromCivil(y, m, d)) == days {
				return true
			}
		}
	}
	return false
}

// observe returns the day a holiday on day a is observed on.
func (h *Holiday) observe(a int) int {
	switch weekdayOf(a) {
	case time.Saturday:
		switch h.Observance {
		case ObserveNextWorkday:
			return a + 2
		case ObservePriorWorkday, ObserveNearestWorkday:
			return a - 1
		}
	case time.Sunday:
		switch h.Observance {
		case ObserveNextWorkday, ObserveNearestWorkday:
			return a + 1
		case ObservePriorWorkday:
			return a - 2
		}
	}
	return a
}

// nthWeekday returns the day of the nth weekday of the month in year y.
func nthWeekday(y int, n *NthWeekday) (int, bool) {
	m := int(n.Month)
	if m < 1 || m > 12 || n.Weekday < time.Sunday || n.Weekday > time.Saturday {
		return 0, false
	}
	switch {
	case n.Week == -1:
		last := daysFromCivil(y, m, daysInMonth(m, y))
		return last - (int(weekdayOf(last))-int(n.Weekday)+7)%7, true
	case n.Week >= 1 && n.Week <= 5:
		first := daysFromCivil(y, m, 1)
		d := 1 + (int(n.Weekday)-int(weekdayOf(first))+7)%7 + (n.Week-1)*7
		if d > daysInMonth(m, y) {
			return 0, false
		}
		return first + d - 1, true
	}
	return 0, false
}

// Validate reports every problem of the frame at once as a
// *ValidationError, with field paths relative to the frame
// ("entries[0].weekly.days[1]").
func (tf TimeFrame) Validate() error {
	var pr Problems
	if tf.ID == "" {
		pr.Add("id", "required")
	}
	if tf.TimeZone != "" {
		if _, err := loadFrameZone(tf.TimeZone); err != nil {
			pr.Add("timeZone", "unknown time zone %q", tf.TimeZone)
		}
	}
	if len(tf.Entries) == 0 {
		pr.Add("entries", "at least one entry required")
	}
	for i := range tf.Entries {
		tf.Entries[i].check(&pr, "entries["+strconv.Itoa(i)+"]")
	}
	for i := range tf.Except {
		tf.Except[i].check(&pr, "except["+strconv.Itoa(i)+"]")
	}
	return pr.Err()
}

// check validates the entry under path.
func (e *TimeFrameEntry) check(pr *Problems, path string) {
	n := 0
	if e.Always {
		n++
	}
	if e.Weekly != nil {
		n++
		p := path + ".weekly"
		if len(e.Weekly.Days) == 0 {
			pr.Add(p+".days", "at least one day required")
		}
		for i, d := range e.Weekly.Days {
			if d < time.Sunday || d > time.Saturday {
				pr.Add(p+".days["+strconv.Itoa(i)+"]", "weekday %d out of range 0 (Sunday) to 6 (Saturday)", int(d))
			}
		}
		checkWindow(pr, p, e.Weekly.From, e.Weekly.To)
	}
	if r := e.DateRange; r != nil {
		n++
		p := path + ".dateRange"
		from, ok1 := parseCivil(r.From)
		to, ok2 := parseCivil(r.To)
		if !ok1 {
			pr.Add(p+".from", "%q is not a date-time YYYY-MM-DDTHH:MM or date YYYY-MM-DD", r.From)
		}
		if !ok2 {
			pr.Add(p+".to", "%q is not a date-time YYYY-MM-DDTHH:MM or date YYYY-MM-DD", r.To)
		}
		if ok1 && ok2 && to <= from {
			pr.Add(p+".to", "must be after from")
		}
	}
	if h := e.Holiday; h != nil {
		n++
		h.check(pr, path+".holiday")
	}
	if n != 1 {
		pr.Add(path, "exactly one of always, weekly, dateRange and holiday must be set, got %d", n)
	}
}

// check validates the holiday under path.
func (h *Holiday) check(pr *Problems, p string) {
	kinds := 0
	if h.Fixed != "" {
		kinds++
		if m, d, ok := parseMonthDay(h.Fixed); !ok || d > daysInMonth(m, 2000) {
			pr.Add(p+".fixed", "%q is not a date MM-DD", h.Fixed)
		}
	}
	if n := h.Nth; n != nil {
		kinds++
		if n.Month < time.January || n.Month > time.December {
			pr.Add(p+".nth.month", "month %d out of range 1–12", int(n.Month))
		}
		if n.Week != -1 && (n.Week < 1 || n.Week > 5) {
			pr.Add(p+".nth.week", "week %d out of range 1–5 or -1 (last)", n.Week)
		}
		if n.Weekday < time.Sunday || n.Weekday > time.Saturday {
			pr.Add(p+".nth.weekday", "weekday %d out of range 0 (Sunday) to 6 (Saturday)", int(n.Weekday))
		}
	}
	if len(h.Dates) > 0 {
		kinds++
		for i, s := range h.Dates {
			if _, _, _, ok := parseCivilDate(s); !ok {
				pr.Add(p+".dates["+strconv.Itoa(i)+"]", "%q is not a date YYYY-MM-DD", s)
			}
		}
	}
	if kinds != 1 {
		pr.Add(p, "exactly one of fixed, nth and dates must be set, got %d", kinds)
	}
	switch h.Observance {
	case "", ObserveNone, ObserveNextWorkday, ObservePriorWorkday, ObserveNearestWorkday:
	default:
		pr.Add(p+".observance", "unknown observance %q", h.Observance)
	}
	checkWindow(pr, p, h.From, h.To)
}

// checkWindow validates the From and To of a daily window under path.
func checkWindow(pr *Problems, path string, from, to ClockTime) {
	if from < 0 || from >= minutesPerDay {
		pr.Add(path+".from", "out of range 00:00–23:59")
	}
	if to < 0 || to > minutesPerDay {
		pr.Add(path+".to", "out of range 00:00–24:00")
	}
}

// CreateTimeFrame stores a tenant-wide time frame that answering rules can
// refer to by id. An empty ID is assigned.
func (d *Directory) CreateTimeFrame(ctx context.Context, tenant string, tf TimeFrame) (StoredTimeFrame, error) {
	if tf.ID == "" {
		tf.ID = newID()
	}
	if err := tf.Validate(); err != nil {
		return StoredTimeFrame{}, err
	}
	if tf.TimeZone != "" {
		tf.TimeZone = CanonicalTimeZone(tf.TimeZone)
		if _, err := loadLocation(tf.TimeZone); err != nil {
			return StoredTimeFrame{}, Invalid("timeZone", "unknown IANA time zone %q", tf.TimeZone)
		}
	}
	s := StoredTimeFrame{TimeFrame: tf}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		s.TenantID, s.Version, s.Created, s.Updated = tenant, 1, t.now, t.now
		if err := t.tx.CreateTimeFrame(t.ctx, &s); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: tf.ID, Action: ActionCreate,
			Summary: tf.Name, Fields: Diff(nil, s), Version: 1})
	})
	return s, err
}

// GetTimeFrame returns a time frame.
func (d *Directory) GetTimeFrame(ctx context.Context, tenant, id string) (StoredTimeFrame, error) {
	return read(d, ctx, func(t *txn) (StoredTimeFrame, error) { return t.tx.GetTimeFrame(t.ctx, tenant, id) })
}

// ListTimeFrames lists the tenant's time frames.
func (d *Directory) ListTimeFrames(ctx context.Context, tenant string) ([]StoredTimeFrame, error) {
	return read(d, ctx, func(t *txn) ([]StoredTimeFrame, error) { return t.tx.ListTimeFrames(t.ctx, tenant) })
}

// UpdateTimeFrame replaces a time frame. version, when not zero, must be the
// current version.
func (d *Directory) UpdateTimeFrame(ctx context.Context, tenant string, tf TimeFrame, version int64) (StoredTimeFrame, error) {
	if err := tf.Validate(); err != nil {
		return StoredTimeFrame{}, err
	}
	tf.TimeZone = CanonicalTimeZone(tf.TimeZone)
	var s StoredTimeFrame
	err := d.update(ctx, func(t *txn) error {
		old, err := t.tx.GetTimeFrame(t.ctx, tenant, tf.ID)
		if err != nil {
			return err
		}
		if version != 0 && version != old.Version {
			return versionConflict("time frame", tf.ID)
		}
		s = StoredTimeFrame{TimeFrame: tf, TenantID: tenant, Version: old.Version + 1, Created: old.Created, Updated: t.now}
		if err := t.tx.UpdateTimeFrame(t.ctx, &s, old.Version); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: tf.ID, Action: ActionUpdate,
			Summary: tf.Name, Fields: Diff(old, s), Version: s.Version})
	})
	return s, err
}

// DeleteTimeFrame deletes a time frame. While an answering rule names it,
// it fails with ErrInUse naming each user, unless opts has Cascade, which
// drops it from those rules in the same transaction (a rule left with no
// time frame is removed: see RoutingPolicy.WithoutTimeFrame).
func (d *Directory) DeleteTimeFrame(ctx context.Context, tenant, id string, opts ...DeleteOption) error {
	o := deleteOpts(opts)
	return d.update(ctx, func(t *txn) error {
		tf, err := t.tx.GetTimeFrame(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		refs, err := t.referrers(tenant, EntityTimeFrame, id)
		if err != nil {
			return err
		}
		if len(refs) > 0 && !o.cascade {
			return inUse("time frame", tf.Name, refs)
		}
		if err := t.unreference(tenant, EntityTimeFrame, id, refs); err != nil {
			return err
		}
		if err := t.tx.DeleteTimeFrame(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityTimeFrame, EntityID: id, Action: ActionDelete, Summary: tf.Name, Version: tf.Version})
	})
}

// StoredTimeFrame is a tenant's named time frame as stored.
type StoredTimeFrame struct {
	TimeFrame
	TenantID string    `json:"tenantId"`
	Version  int64     `json:"version"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}
