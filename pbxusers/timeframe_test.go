package pbxusers_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// MustLoadLocation loads an IANA zone or fails the test.
func MustLoadLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(tb, err)
	return loc
}

// MustParseUTC parses "2006-01-02T15:04Z" or fails the test.
func MustParseUTC(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse("2006-01-02T15:04Z", s)
	require.NoError(tb, err)
	return t
}

// MustParseLocal parses the wall-clock time "2006-01-02 15:04" in loc.
func MustParseLocal(tb testing.TB, s string, loc *time.Location) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(tb, err)
	return t
}

func weekly(from, to pbxusers.ClockTime, days ...time.Weekday) pbxusers.TimeFrameEntry {
	return pbxusers.TimeFrameEntry{Weekly: &pbxusers.Weekly{Days: days, From: from, To: to}}
}

func holiday(h pbxusers.Holiday) pbxusers.TimeFrameEntry {
	return pbxusers.TimeFrameEntry{Holiday: &h}
}

var workdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

func businessHours() pbxusers.TimeFrame {
	return pbxusers.TimeFrame{ID: "business", Name: "Business hours",
		Entries: []pbxusers.TimeFrameEntry{weekly(pbxusers.ClockAt(9, 0), pbxusers.ClockAt(17, 0), workdays...)}}
}

func TestTimeFrameContains(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	newYork := MustLoadLocation(t, "America/New_York")

	night := pbxusers.TimeFrame{ID: "night", Entries: []pbxusers.TimeFrameEntry{
		weekly(pbxusers.ClockAt(22, 0), pbxusers.ClockAt(6, 0), time.Friday)}}
	christmas := pbxusers.TimeFrame{ID: "xmas", Entries: []pbxusers.TimeFrameEntry{
		{DateRange: &pbxusers.DateRange{From: "2026-12-24T12:00", To: "2026-12-27"}}}}
	usHolidays := pbxusers.TimeFrame{ID: "us", Entries: []pbxusers.TimeFrameEntry{
		holiday(pbxusers.Holiday{Name: "Independence Day", Fixed: "07-04", Observance: pbxusers.ObservePriorWorkday}),
		holiday(pbxusers.Holiday{Name: "Thanksgiving", Nth: &pbxusers.NthWeekday{Month: time.November, Week: 4, Weekday: time.Thursday}}),
		holiday(pbxusers.Holiday{Name: "Memorial Day", Nth: &pbxusers.NthWeekday{Month: time.May, Week: -1, Weekday: time.Monday}}),
		holiday(pbxusers.Holiday{Name: "New Year", Fixed: "01-01", Observance: pbxusers.ObserveNearestWorkday}),
		holiday(pbxusers.Holiday{Name: "Christmas Eve", Fixed: "12-24", From: pbxusers.ClockAt(12, 0)}),
		holiday(pbxusers.Holiday{Name: "Good Friday", Dates: []string{"2026-04-03", "2027-03-26"}}),
	}}
	nextWorkday := pbxusers.TimeFrame{ID: "next", Entries: []pbxusers.TimeFrameEntry{
		holiday(pbxusers.Holiday{Fixed: "07-04", Observance: pbxusers.ObserveNextWorkday})}}
	nearest := pbxusers.TimeFrame{ID: "nearest", Entries: []pbxusers.TimeFrameEntry{
		holiday(pbxusers.Holiday{Fixed: "07-04", Observance: pbxusers.ObserveNearestWorkday}),
		holiday(pbxusers.Holiday{Fixed: "11-01", Observance: pbxusers.ObserveNearestWorkday})}}
	openMinusHolidays := businessHours()
	openMinusHolidays.Except = usHolidays.Entries

	for _, tt := range []struct {
		name  string
		frame pbxusers.TimeFrame
		loc   *time.Location
		at    string // wall clock in loc
		want  bool
	}{
		{"business Monday 09:00 (start included)", businessHours(), berlin, "2026-03-30 09:00", true},
		{"business Monday 16:59", businessHours(), berlin, "2026-03-30 16:59", true},
		{"business Monday 17:00 (end excluded)", businessHours(), berlin, "2026-03-30 17:00", false},
		{"business Saturday", businessHours(), berlin, "2026-03-28 10:00", false},

		{"night Friday 23:00", night, berlin, "2026-03-27 23:00", true},
		{"night Saturday 03:00 (after midnight)", night, berlin, "2026-03-28 03:00", true},
		{"night Saturday 06:00 (end excluded)", night, berlin, "2026-03-28 06:00", false},
		{"night Saturday 07:00", night, berlin, "2026-03-28 07:00", false},
		{"night Thursday 23:00", night, berlin, "2026-03-26 23:00", false},
		{"night Friday 03:00 (belongs to Thursday)", night, berlin, "2026-03-27 03:00", false},
		{"night Saturday 23:00", night, berlin, "2026-03-28 23:00", false},

		{"date range before start", christmas, berlin, "2026-12-24 11:59", false},
		{"date range start", christmas, berlin, "2026-12-24 12:00", true},
		{"date range middle", christmas, berlin, "2026-12-26 23:59", true},
		{"date range end excluded", christmas, berlin, "2026-12-27 00:00", false},

		{"fixed holiday on a Saturday is not observed on the day", usHolidays, newYork, "2026-07-04 10:00", false},
		{"fixed holiday on a Saturday observed on prior Friday", usHolidays, newYork, "2026-07-03 10:00", true},
		{"fixed holiday on a workday", usHolidays, newYork, "2028-07-04 10:00", true},
		{"fixed holiday on a workday, day before", usHolidays, newYork, "2028-07-03 10:00", false},
		{"next workday moves Saturday to Monday", nextWorkday, newYork, "2026-07-06 08:00", true},
		{"next workday: Friday is not the holiday", nextWorkday, newYork, "2026-07-03 08:00", false},
		{"nearest workday moves Saturday to Friday", nearest, newYork, "2026-07-03 08:00", true},
		{"nearest workday moves Sunday to Monday", nearest, newYork, "2026-11-02 08:00", true},
		{"nearest workday: Sunday itself not observed", nearest, newYork, "2026-11-01 08:00", false},
		{"observance crosses New Year: 2022-01-01 Saturday on 2021-12-31", usHolidays, newYork, "2021-12-31 10:00", true},
		{"nth weekday: Thanksgiving 2026", usHolidays, newYork, "2026-11-26 00:00", true},
		{"nth weekday: Thursday after Thanksgiving", usHolidays, newYork, "2026-11-19 12:00", false},
		{"last weekday: Memorial Day 2026", usHolidays, newYork, "2026-05-25 23:59", true},
		{"last weekday: the Monday before", usHolidays, newYork, "2026-05-18 12:00", false},
		{"holiday window: Christmas Eve morning", usHolidays, newYork, "2026-12-24 11:00", false},
		{"holiday window: Christmas Eve afternoon", usHolidays, newYork, "2026-12-24 15:00", true},
		{"explicit holiday date", usHolidays, newYork, "2027-03-26 09:00", true},
		{"explicit holiday date, other year", usHolidays, newYork, "2028-03-26 09:00", false},

		{"business minus holidays: normal Friday", openMinusHolidays, newYork, "2026-07-10 10:00", true},
		{"business minus holidays: observed holiday", openMinusHolidays, newYork, "2026-07-03 10:00", false},
		{"business minus holidays: Thanksgiving", openMinusHolidays, newYork, "2026-11-26 10:00", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at := MustParseLocal(t, tt.at, tt.loc)
			assert.Equal(t, tt.want, tt.frame.Contains(at, tt.loc))
		})
	}
}

// TestTimeFrameDST checks windows on the days clocks change, using UTC
// instants because the local wall clock skips or repeats an hour.
func TestTimeFrameDST(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	newYork := MustLoadLocation(t, "America/New_York")
	sunday := func(from, to pbxusers.ClockTime) pbxusers.TimeFrame {
		return pbxusers.TimeFrame{ID: "w", Entries: []pbxusers.TimeFrameEntry{weekly(from, to, time.Sunday)}}
	}
	across := sunday(pbxusers.ClockAt(1, 30), pbxusers.ClockAt(3, 30))

	for _, tt := range []struct {
		name  string
		frame pbxusers.TimeFrame
		loc   *time.Location
		utc   string
		want  bool
	}{
		// Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to 03:00 CEST.
		{"Berlin spring: 01:29 CET", across, berlin, "2026-03-29T00:29Z", false},
		{"Berlin spring: 01:30 CET", across, berlin, "2026-03-29T00:30Z", true},
		{"Berlin spring: 01:59 CET", across, berlin, "2026-03-29T00:59Z", true},
		{"Berlin spring: 03:00 CEST, right after the skipped hour", across, berlin, "2026-03-29T01:00Z", true},
		{"Berlin spring: 03:29 CEST", across, berlin, "2026-03-29T01:29Z", true},
		{"Berlin spring: 03:30 CEST", across, berlin, "2026-03-29T01:30Z", false},
		// New York springs forward on 2026-03-08 at 02:00 EST (07:00Z) to 03:00 EDT.
		{"New York spring: 01:45 EST", across, newYork, "2026-03-08T06:45Z", true},
		{"New York spring: 03:15 EDT", across, newYork, "2026-03-08T07:15Z", true},
		{"New York spring: 03:30 EDT", across, newYork, "2026-03-08T07:30Z", false},
		{"New York spring: 01:29 EST", across, newYork, "2026-03-08T06:29Z", false},
		// New York falls back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST: 01:30 happens twice.
		{"New York fall: 00:59 EDT", sunday(pbxusers.ClockAt(1, 0), pbxusers.ClockAt(2, 0)), newYork, "2026-11-01T04:59Z", false},
		{"New York fall: first 01:30 (EDT)", sunday(pbxusers.ClockAt(1, 0), pbxusers.ClockAt(2, 0)), newYork, "2026-11-01T05:30Z", true},
		{"New York fall: second 01:30 (EST)", sunday(pbxusers.ClockAt(1, 0), pbxusers.ClockAt(2, 0)), newYork, "2026-11-01T06:30Z", true},
		{"New York fall: 02:00 EST", sunday(pbxusers.ClockAt(1, 0), pbxusers.ClockAt(2, 0)), newYork, "2026-11-01T07:00Z", false},
		// Berlin falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00 CET: 02:30 happens twice.
		{"Berlin fall: first 02:30 (CEST)", sunday(pbxusers.ClockAt(2, 0), pbxusers.ClockAt(3, 0)), berlin, "2026-10-25T00:30Z", true},
		{"Berlin fall: second 02:30 (CET)", sunday(pbxusers.ClockAt(2, 0), pbxusers.ClockAt(3, 0)), berlin, "2026-10-25T01:30Z", true},
		{"Berlin fall: 03:00 CET", sunday(pbxusers.ClockAt(2, 0), pbxusers.ClockAt(3, 0)), berlin, "2026-10-25T02:00Z", false},
		{"Berlin fall: 01:59 CEST", sunday(pbxusers.ClockAt(2, 0), pbxusers.ClockAt(3, 0)), berlin, "2026-10-24T23:59Z", false},
		// One instant, two zones: 15:30Z is 17:30 in Berlin and 11:30 in New York.
		{"same instant in Berlin: after hours", businessHours(), berlin, "2026-03-30T15:30Z", false},
		{"same instant in New York: business hours", businessHours(), newYork, "2026-03-30T15:30Z", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.frame.Contains(MustParseUTC(t, tt.utc), tt.loc))
		})
	}
}

func TestTimeFrameOwnZone(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	tf := businessHours()
	tf.TimeZone = "America/New_York"
	tf, err := tf.Loaded()
	require.NoError(t, err)
	require.NotNil(t, tf.Location)
	at := MustParseUTC(t, "2026-03-30T15:30Z") // 17:30 Berlin, 11:30 New York
	assert.True(t, tf.Contains(at, berlin), "the frame's own zone wins over the user's")

	tf.TimeZone = "Mars/Olympus"
	_, err = tf.Loaded()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `time frame "business"`)
}

func TestTimeFrameContainsDoesNotAllocate(t *testing.T) {
	berlin := MustLoadLocation(t, "Europe/Berlin")
	tf := businessHours()
	tf.Entries = append(tf.Entries,
		holiday(pbxusers.Holiday{Fixed: "07-04", Observance: pbxusers.ObserveNearestWorkday}),
		pbxusers.TimeFrameEntry{DateRange: &pbxusers.DateRange{From: "2026-12-24", To: "2026-12-27"}})
	at := MustParseLocal(t, "2026-03-28 12:00", berlin)
	allocs := testing.AllocsPerRun(100, func() { tf.Contains(at, berlin) })
	assert.Zero(t, allocs)
}

func TestTimeFrameValidate(t *testing.T) {
	valid := businessHours()
	valid.TimeZone = "Europe/Berlin"
	valid.Except = []pbxusers.TimeFrameEntry{holiday(pbxusers.Holiday{Fixed: "12-25"})}
	require.NoError(t, valid.Validate())

	for _, tt := range []struct {
		name   string
		frame  pbxusers.TimeFrame
		fields []string
	}{
		{"empty", pbxusers.TimeFrame{}, []string{"id", "entries"}},
		{"bad zone", pbxusers.TimeFrame{ID: "x", TimeZone: "Europe/Atlantis", Entries: []pbxusers.TimeFrameEntry{{Always: true}}}, []string{"timeZone"}},
		{"host zone", pbxusers.TimeFrame{ID: "x", TimeZone: "Local", Entries: []pbxusers.TimeFrameEntry{{Always: true}}}, []string{"timeZone"}},
		{"empty entry and two kinds", pbxusers.TimeFrame{ID: "x", Entries: []pbxusers.TimeFrameEntry{
			{}, {Always: true, Weekly: &pbxusers.Weekly{Days: workdays}}}}, []string{"entries[0]", "entries[1]"}},
		{"weekly", pbxusers.TimeFrame{ID: "x", Entries: []pbxusers.TimeFrameEntry{
			weekly(pbxusers.ClockAt(24, 0), pbxusers.ClockAt(25, 0), time.Monday, 7),
			weekly(0, 0)}},
			[]string{"entries[0].weekly.days[1]", "entries[0].weekly.from", "entries[0].weekly.to", "entries[1].weekly.days"}},
		{"date range", pbxusers.TimeFrame{ID: "x", Entries: []pbxusers.TimeFrameEntry{
			{DateRange: &pbxusers.DateRange{From: "2026-02-30", To: "2026-12-24T25:00"}},
			{DateRange: &pbxusers.DateRange{From: "2026-12-24T12:00", To: "2026-12-24"}}}},
			[]string{"entries[0].dateRange.from", "entries[0].dateRange.to", "entries[1].dateRange.to"}},
		{"holidays", pbxusers.TimeFrame{ID: "x", Entries: []pbxusers.TimeFrameEntry{{Always: true}}, Except: []pbxusers.TimeFrameEntry{
			holiday(pbxusers.Holiday{Fixed: "02-30"}),
			holiday(pbxusers.Holiday{Nth: &pbxusers.NthWeekday{Month: 13, Week: 0, Weekday: 9}}),
			holiday(pbxusers.Holiday{Dates: []string{"2026-1-1"}, Observance: "weekend"}),
			holiday(pbxusers.Holiday{}),
			holiday(pbxusers.Holiday{Fixed: "01-01", Dates: []string{"2026-01-01"}}),
		}}, []string{"except[0].holiday.fixed", "except[1].holiday.nth.month", "except[1].holiday.nth.week",
			"except[1].holiday.nth.weekday", "except[2].holiday.dates[0]", "except[2].holiday.observance",
			"except[3].holiday", "except[4].holiday"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.frame.Validate()
			require.ErrorIs(t, err, pbxusers.ErrInvalid)
			var ve *pbxusers.ValidationError
			require.True(t, errors.As(err, &ve))
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			assert.ElementsMatch(t, tt.fields, got, err.Error())
		})
	}
}

func TestTimeFrameJSON(t *testing.T) {
	tf := pbxusers.TimeFrame{ID: "business", TimeZone: "Europe/Berlin",
		Entries: []pbxusers.TimeFrameEntry{weekly(pbxusers.ClockAt(9, 0), pbxusers.ClockAt(24, 0), time.Monday)},
		Except: []pbxusers.TimeFrameEntry{holiday(pbxusers.Holiday{Name: "Thanksgiving",
			Nth:        &pbxusers.NthWeekday{Month: time.November, Week: 4, Weekday: time.Thursday},
			Observance: pbxusers.ObserveNone})}}
	b, err := json.Marshal(tf)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"business","timeZone":"Europe/Berlin",
		"entries":[{"weekly":{"days":[1],"from":"09:00","to":"24:00"}}],
		"except":[{"holiday":{"name":"Thanksgiving","nth":{"month":11,"week":4,"weekday":4},"observance":"none"}}]}`, string(b))
	var back pbxusers.TimeFrame
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, tf, back)

	var c pbxusers.ClockTime
	for _, bad := range []string{`"9"`, `"24:01"`, `"12:60"`, `"ab:cd"`, `"-1:00"`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &c), bad)
	}
	require.NoError(t, json.Unmarshal([]byte(`"7:05"`), &c))
	assert.Equal(t, pbxusers.ClockAt(7, 5), c)
	assert.Equal(t, "07:05", c.String())
}
