package ldapsync

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed five-field cron expression: minute (0-59), hour
// (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week (0-7 or
// SUN-SAT, 0 and 7 are Sunday). Each field takes "*", a value, a range
// "a-b", a step "*/n" or "a-b/n", or a comma list of those. As in cron, when
// both day fields are restricted a day matches if either does.
//
// Times are wall-clock times in the location Next is given. On the day
// daylight saving time starts, a matching hour that does not exist (02:00 in
// Europe) runs when the clock resumes (03:00); on the day it ends, a time in
// the repeated hour matches twice, so the sync may run twice that night.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domAny, dowAny                bool
}

// Descriptors accepted by ParseSchedule besides five fields.
var scheduleDescriptors = map[string]string{
	"@hourly":   "0 * * * *",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@weekly":   "0 0 * * 0",
	"@monthly":  "0 0 1 * *",
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is the name of value min+i, if any
}

var (
	fieldMinute = cronField{name: "minute", min: 0, max: 59}
	fieldHour   = cronField{name: "hour", min: 0, max: 23}
	fieldDom    = cronField{name: "day of month", min: 1, max: 31}
	fieldMonth  = cronField{name: "month", min: 1, max: 12, names: []string{
		"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	fieldDow = cronField{name: "day of week", min: 0, max: 7, names: []string{
		"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
)

// ParseSchedule parses a cron expression or one of @hourly, @daily,
// @midnight, @weekly, @monthly.
func ParseSchedule(expr string) (*Schedule, error) {
	spec := strings.TrimSpace(expr)
	if d, ok := scheduleDescriptors[strings.ToLower(spec)]; ok {
		spec = d
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("invalid cron expression %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(fields))
	}
	var s Schedule
	var err error
	parse := func(text string, f cronField) uint64 {
		if err != nil {
			return 0
		}
		var bits uint64
		bits, err = f.parse(text)
		if err != nil {
			err = fmt.Errorf("invalid cron expression %q: %w", expr, err)
		}
		return bits
	}
	s.minute = parse(fields[0], fieldMinute)
	s.hour = parse(fields[1], fieldHour)
	s.dom = parse(fields[2], fieldDom)
	s.month = parse(fields[3], fieldMonth)
	s.dow = parse(fields[4], fieldDow)
	if err != nil {
		return nil, err
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow |= 1
	}
	s.domAny = strings.HasPrefix(fields[2], "*")
	s.dowAny = strings.HasPrefix(fields[4], "*")
	return &s, nil
}

func (f cronField) parse(text string) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(text, ",") {
		rangePart, stepPart, hasStep := strings.Cut(part, "/")
		lo, hi := f.min, f.max
		switch {
		case rangePart == "*":
		case strings.Contains(rangePart, "-"):
			a, b, _ := strings.Cut(rangePart, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			if hi, err = f.value(b); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("%s range %q is backwards", f.name, rangePart)
			}
		default:
			v, err := f.value(rangePart)
			if err != nil {
				return 0, err
			}
			lo, hi = v, v
			if hasStep { // "5/15" means 5-max/15
				hi = f.max
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepPart)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%s step %q is not a positive number", f.name, stepPart)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func (f cronField) value(text string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(text, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < f.min || v > f.max {
		return 0, fmt.Errorf("%s %q is not between %d and %d", f.name, text, f.min, f.max)
	}
	return v, nil
}

// maxScheduleSteps bounds Next: enough to walk five years of months and days
// plus the hours and minutes of one matching day.
const maxScheduleSteps = 5*12 + 5*366 + 24 + 60

// Next returns the first time after t (to the minute, in t's location) that
// the schedule matches, or the zero time if none does within five years
// (for example "0 0 30 2 *", February 30th).
func (s *Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for range maxScheduleSteps {
		if t.After(limit) {
			break
		}
		y, mo, d := t.Date()
		switch {
		case s.month&(1<<uint(mo)) == 0:
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			h := t.Hour() + 1
			t = time.Date(y, mo, d, h, 0, 0, 0, loc)
			if h < 24 && t.Hour() != h && s.hour&(1<<uint(h)) != 0 {
				return t // hour h does not exist today (DST): run when the clock resumes
			}
		case s.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domAny || s.dowAny {
		return dom && dow
	}
	return dom || dow
}
