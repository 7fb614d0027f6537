package ldapsync

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, zurich)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct{ expr, after, want string }{
		{DefaultSchedule, "2026-11-23 01:59", "2026-11-23 02:00"},
		{DefaultSchedule, "2026-11-23 02:00", "2026-11-24 02:00"},
		{"*/15 * * * *", "2026-11-23 10:07", "2026-11-23 10:15"},
		{"30 8-17/3 * * MON-FRI", "2026-11-27 16:00", "2026-11-27 17:30"}, // hours 8, 11, 14, 17
		{"30 8-17/3 * * MON-FRI", "2026-11-27 17:30", "2026-11-30 08:30"}, // Friday → Monday
		{"0 0 1,15 * *", "2026-11-16 00:00", "2026-12-01 00:00"},
		{"0 12 13 * 5", "2026-11-01 00:00", "2026-11-06 12:00"}, // day of month OR Friday
		{"0 0 * * 7", "2026-11-23 00:00", "2026-11-29 00:00"},   // 7 is Sunday
		{"@weekly", "2026-11-23 00:00", "2026-11-29 00:00"},
		{"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"},
		{"0 2 * * *", "2026-03-28 03:00", "2026-03-29 03:00"}, // 02:00 does not exist on that day in Zurich
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tt.expr, err)
			continue
		}
		if got := s.Next(at(tt.after)); !got.Equal(at(tt.want)) {
			t.Errorf("%q after %s = %s, want %s", tt.expr, tt.after, got.Format("2006-01-02 15:04 Mon"), tt.want)
		}
	}
	never, _ := ParseSchedule("0 0 30 2 *")
	if got := never.Next(at("2026-01-01 00:00")); !got.IsZero() {
		t.Errorf("February 30th = %s, want zero", got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", `invalid cron expression "": want 5 fields (minute hour day-of-month month day-of-week), got 0`},
		{"0 2 * *", `invalid cron expression "0 2 * *": want 5 fields (minute hour day-of-month month day-of-week), got 4`},
		{"60 * * * *", `invalid cron expression "60 * * * *": minute "60" is not between 0 and 59`},
		{"0 5-2 * * *", `invalid cron expression "0 5-2 * * *": hour range "5-2" is backwards`},
		{"*/0 * * * *", `invalid cron expression "*/0 * * * *": minute step "0" is not a positive number`},
		{"0 0 * FOO *", `invalid cron expression "0 0 * FOO *": month "FOO" is not between 1 and 12`},
	}
	for _, tt := range tests {
		if _, err := ParseSchedule(tt.expr); err == nil || err.Error() != tt.want {
			t.Errorf("ParseSchedule(%q) error = %v\nwant %s", tt.expr, err, tt.want)
		}
	}
}
