package pbxusers

import (
	"strconv"
	"time"
)

// wallClock is an instant read as civil time in some zone.
type wallClock struct {
	days    int // days since 1970-01-01 in the zone's calendar
	minute  int // minute of the day, 0–1439
	y, m, d int
}

// wallOf reads t in loc (nil: UTC) without allocating.
func wallOf(t time.Time, loc *time.Location) wallClock {
	if loc == nil {
		loc = time.UTC
	}
	_, off := t.In(loc).Zone()
	sec := t.Unix() + int64(off)
	days := sec / 86400
	if sec%86400 < 0 {
		days--
	}
	w := wallClock{days: int(days), minute: int(sec-days*86400) / 60}
	w.y, w.m, w.d = civilFromDays(w.days)
	return w
}

// key returns the wall-clock time as YYYYMMDDhhmm, ordered like time.
func (w *wallClock) key() int64 {
	return civilKey(w.y, w.m, w.d, w.minute/60, w.minute%60)
}

// appendTo appends "Mon 2026-03-30 19:05 Europe/Berlin".
func (w *wallClock) appendTo(b []byte, loc *time.Location) []byte {
	b = append(b, weekdayOf(w.days).String()[:3]...)
	b = append(b, ' ')
	b = appendPadded(b, w.y, 4)
	b = append(b, '-')
	b = appendPadded(b, w.m, 2)
	b = append(b, '-')
	b = appendPadded(b, w.d, 2)
	b = append(b, ' ')
	b = appendPadded(b, w.minute/60, 2)
	b = append(b, ':')
	b = appendPadded(b, w.minute%60, 2)
	if loc == nil {
		loc = time.UTC
	}
	b = append(b, ' ')
	return append(b, loc.String()...)
}

// appendPadded appends v zero-padded to width digits.
func appendPadded(b []byte, v, width int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	for n, p := 1, 10; n < width; n, p = n+1, p*10 {
		if v < p {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, int64(v), 10)
}

func civilKey(y, m, d, hh, mm int) int64 {
	return (((int64(y)*100+int64(m))*100+int64(d))*100+int64(hh))*100 + int64(mm)
}

// parseCivil parses "YYYY-MM-DDTHH:MM" or "YYYY-MM-DD" into a civilKey.
func parseCivil(s string) (int64, bool) {
	if len(s) != 10 && len(s) != 16 {
		return 0, false
	}
	y, m, d, ok := parseCivilDate(s[:10])
	if !ok {
		return 0, false
	}
	hh, mm := 0, 0
	if len(s) == 16 {
		if s[10] != 'T' || s[13] != ':' || !digitsOnly(s[11:13]) || !digitsOnly(s[14:16]) {
			return 0, false
		}
		hh, mm = atoi2(s[11:13]), atoi2(s[14:16])
		if hh > 23 || mm > 59 {
			return 0, false
		}
	}
	return civilKey(y, m, d, hh, mm), true
}

// parseCivilDate parses "YYYY-MM-DD".
func parseCivilDate(s string) (y, m, d int, ok bool) {
	if len(s) != 10 || s[4] != '-' || !digitsOnly(s[:4]) {
		return 0, 0, 0, false
	}
	m, d, ok = parseMonthDay(s[5:])
	y = atoi2(s[:2])*100 + atoi2(s[2:4])
	if !ok || d > daysInMonth(m, y) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// parseMonthDay parses "MM-DD" (day checked against a leap year).
func parseMonthDay(s string) (m, d int, ok bool) {
	if len(s) != 5 || s[2] != '-' || !digitsOnly(s[:2]) || !digitsOnly(s[3:]) {
		return 0, 0, false
	}
	m, d = atoi2(s[:2]), atoi2(s[3:])
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(m, 2000) {
		return 0, 0, false
	}
	return m, d, true
}

// atoi2 converts two ASCII digits.
func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// daysInMonth returns the number of days of month m in year y.
func daysInMonth(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// weekdayOf returns the weekday of a day counted from 1970-01-01 (Thursday).
func weekdayOf(days int) time.Weekday {
	return time.Weekday(((days+4)%7 + 7) % 7)
}
