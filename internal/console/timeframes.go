package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// timeFramesData is the Time frames page.
type timeFramesData struct {
	Frames []timeFrameRow
	// Edit is the id of the frame the form edits, "" for a new one;
	// Editable is false when the form cannot show that frame whole.
	Edit     string
	Editable bool
	// Days are the weekdays of the form, Monday first.
	Days []dayBox
}

// timeFrameRow is a frame with its entries in words.
type timeFrameRow struct {
	Frame           pbxusers.StoredTimeFrame
	Entries, Except []string
}

// dayBox is a weekday's checkbox.
type dayBox struct {
	Value   int
	Key     string
	Checked bool
}

func (h *Handler) listTimeFrames(w http.ResponseWriter, r *http.Request, ss *session) {
	f := &form{Values: map[string]string{"from": "09:00", "to": "17:00"}}
	h.renderTimeFrames(w, r, ss, http.StatusOK, f, map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true})
}

func (h *Handler) renderTimeFrames(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form, days map[int]bool) {
	h.renderTimeFrame(w, r, ss, status, f, days, "", true)
}

func (h *Handler) renderTimeFrame(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form, days map[int]bool,
	edit string, editable bool) {
	tfs, err := h.dir.ListTimeFrames(r.Context(), ss.Tenant)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d := &timeFramesData{Edit: edit, Editable: editable}
	for _, tf := range tfs {
		row := timeFrameRow{Frame: tf}
		for _, e := range tf.Entries {
			row.Entries = append(row.Entries, entryText(e))
		}
		for _, e := range tf.Except {
			row.Except = append(row.Except, entryText(e))
		}
		d.Frames = append(d.Frames, row)
	}
	for _, wd := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		d.Days = append(d.Days, dayBox{Value: int(wd), Key: "day" + wd.String()[:3], Checked: days[int(wd)]})
	}
	h.renderTenant(w, r, ss, status, "tenant_timeframes", "timeframes", f, d)
}

// entryText is a time frame entry in words (the same for en and de: days
// and dates are shown as the API writes them).
func entryText(e pbxusers.TimeFrameEntry) string {
	switch {
	case e.Always:
		return "always"
	case e.Weekly != nil:
		var days []string
		for _, d := range e.Weekly.Days {
			days = append(days, d.String()[:3])
		}
		return fmt.Sprintf("%s %s–%s", strings.Join(days, ","), e.Weekly.From, e.Weekly.To)
	case e.DateRange != nil:
		line, _ := dateRangeText(*e.DateRange)
		return strings.Replace(line, " ", " – ", 1)
	case e.Holiday != nil:
		hd := e.Holiday
		when := hd.Fixed
		if len(hd.Dates) > 0 {
			when = strings.Join(hd.Dates, ", ")
		}
		if hd.Nth != nil {
			when = fmt.Sprintf("%+v", *hd.Nth)
		}
		return strings.TrimSpace(when + " " + hd.Name)
	}
	return ""
}

// timeFrameForm reads the time frame form: one weekly window ("business
// hours") and dates or date ranges, one per line (see dateRangeLine),
// minus the holidays listed, one per line as "MM-DD Name" (every year) or
// "YYYY-MM-DD Name" (that date). A frame needs a weekday or a date. id is
// the frame's id (the form's, for a new frame).
func timeFrameForm(r *http.Request, t texts, id string) (*form, map[int]bool, pbxusers.TimeFrame) {
	f := newForm(r, "id", "name", "timeZone", "from", "to", "holidays", "dates")
	f.Values["holidays"] = r.PostFormValue("holidays")
	f.Values["dates"] = r.PostFormValue("dates")
	if id == "" {
		id = f.V("id")
	}
	f.Values["id"] = id
	days := map[int]bool{}
	tf := pbxusers.TimeFrame{ID: id, Name: f.V("name"), TimeZone: f.V("timeZone")}
	wk := &pbxusers.Weekly{}
	for _, s := range r.PostForm["day"] {
		var d int
		if _, err := fmt.Sscanf(s, "%d", &d); err == nil && d >= 0 && d <= 6 {
			days[d] = true
			wk.Days = append(wk.Days, time.Weekday(d))
		}
	}
	for _, k := range []string{"from", "to"} {
		target := &wk.From
		if k == "to" {
			target = &wk.To
		}
		if len(wk.Days) == 0 && f.V(k) == "" {
			continue // hours without days: a frame of dates alone
		}
		if err := target.UnmarshalText([]byte(f.V(k))); err != nil {
			f.fail(k, err.Error())
		}
	}
	var bad []string
	for i, line := range strings.Split(f.V("dates"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		dr, ok := dateRangeLine(line)
		if !ok {
			bad = append(bad, fmt.Sprintf(t.get("badDates"), i+1, line))
			continue
		}
		tf.Entries = append(tf.Entries, pbxusers.TimeFrameEntry{DateRange: dr})
	}
	if len(bad) > 0 {
		f.fail("dates", strings.Join(bad, "; "))
	}
	switch {
	case len(wk.Days) > 0:
		tf.Entries = append([]pbxusers.TimeFrameEntry{{Weekly: wk}}, tf.Entries...)
	case len(tf.Entries) == 0 && len(bad) == 0:
		f.fail("days", t.get("pickDay"))
	}
	for i, line := range strings.Split(f.V("holidays"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		date, name, _ := strings.Cut(line, " ")
		hd := &pbxusers.Holiday{Name: strings.TrimSpace(name)}
		switch len(date) {
		case len("01-02"):
			hd.Fixed = date
		case len("2006-01-02"):
			hd.Dates = []string{date}
		default:
			f.fail("holidays", fmt.Sprintf(t.get("badHoliday"), i+1, line))
			continue
		}
		tf.Except = append(tf.Except, pbxusers.TimeFrameEntry{Holiday: hd})
	}
	if len(f.Problems) > 0 {
		f.Summary = t.get("fixErrors")
	}
	return f, days, tf
}

// dateRangeLine reads a line of the form's dates: "YYYY-MM-DD" (that
// day), "YYYY-MM-DD YYYY-MM-DD" (the first to the last day, both whole),
// or "YYYY-MM-DDTHH:MM YYYY-MM-DDTHH:MM" (from the first instant until
// the second); a dash between the two is allowed.
func dateRangeLine(line string) (*pbxusers.DateRange, bool) {
	fields := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == '–' || r == '—' })
	if len(fields) == 3 && fields[1] == "-" {
		fields = []string{fields[0], fields[2]}
	}
	day := func(s string) (time.Time, bool) {
		d, err := time.Parse(time.DateOnly, s)
		return d, err == nil
	}
	switch len(fields) {
	case 1:
		d, ok := day(fields[0])
		if !ok {
			return nil, false
		}
		return &pbxusers.DateRange{From: fields[0], To: d.AddDate(0, 0, 1).Format(time.DateOnly)}, true
	case 2:
		first, ok1 := day(fields[0])
		last, ok2 := day(fields[1])
		if ok1 && ok2 {
			return &pbxusers.DateRange{From: fields[0], To: last.AddDate(0, 0, 1).Format(time.DateOnly)}, !last.Before(first)
		}
		const minute = "2006-01-02T15:04"
		from, err1 := time.Parse(minute, fields[0])
		to, err2 := time.Parse(minute, fields[1])
		if err1 != nil || err2 != nil || !to.After(from) {
			return nil, false
		}
		return &pbxusers.DateRange{From: fields[0], To: fields[1]}, true
	}
	return nil, false
}

// dateRangeText is dateRangeLine's form of r, or false when the line
// would not read back as r.
func dateRangeText(r pbxusers.DateRange) (string, bool) {
	from, err1 := time.Parse(time.DateOnly, r.From)
	to, err2 := time.Parse(time.DateOnly, r.To)
	if err1 == nil && err2 == nil && to.After(from) {
		last := to.AddDate(0, 0, -1)
		if last.Equal(from) {
			return r.From, true
		}
		return r.From + " " + last.Format(time.DateOnly), true
	}
	line := r.From + " " + r.To
	got, ok := dateRangeLine(line)
	return line, ok && *got == r
}

// timeFrameFields maps the admin API's problem paths to the form's fields.
var timeFrameFields = map[string]string{"id": "id", "name": "name", "timeZone": "timeZone", "entries[0].weekly.days": "days",
	"entries[0].weekly.from": "from", "entries[0].weekly.to": "to", "entries": "dates", "except": "holidays"}

// createTimeFrame adds a frame through the admin API.
func (h *Handler) createTimeFrame(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	f, days, tf := timeFrameForm(r, t, "")
	if len(f.Problems) > 0 {
		h.renderTimeFrames(w, r, ss, http.StatusUnprocessableEntity, f, days)
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/timeframes", tf, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, timeFrameFields)
		h.renderTimeFrames(w, r, ss, statusOf(p), f, days)
		return
	}
	back(w, r, "/timeframes", "savedNamed", tf.ID)
}

// simpleFrame returns the form of a frame the form can show whole (at
// most one weekly window, first, and dates or date ranges, minus
// fixed-date or one-date holidays of the whole day), and false for any
// other: editing those here would lose what the form cannot show, so they
// are edited through the admin API.
func simpleFrame(tf pbxusers.StoredTimeFrame) (*form, map[int]bool, bool) {
	f := &form{Values: map[string]string{"id": tf.ID, "name": tf.Name, "timeZone": tf.TimeZone, "from": "09:00", "to": "17:00"}}
	days := map[int]bool{}
	var dates []string
	for i, e := range tf.Entries {
		switch {
		case e.Weekly != nil && i == 0:
			f.Values["from"], f.Values["to"] = e.Weekly.From.String(), e.Weekly.To.String()
			for _, d := range e.Weekly.Days {
				days[int(d)] = true
			}
		case e.DateRange != nil:
			line, ok := dateRangeText(*e.DateRange)
			if !ok {
				return nil, nil, false
			}
			dates = append(dates, line)
		default:
			return nil, nil, false
		}
	}
	if len(days) == 0 && len(dates) == 0 {
		return nil, nil, false
	}
	f.Values["dates"] = strings.Join(dates, "\n")
	var lines []string
	for _, e := range tf.Except {
		hd := e.Holiday
		if hd == nil || hd.Nth != nil || hd.Observance != "" || hd.From != 0 || hd.To != 0 || len(hd.Dates) > 1 {
			return nil, nil, false
		}
		date := hd.Fixed
		if len(hd.Dates) == 1 {
			date = hd.Dates[0]
		}
		lines = append(lines, strings.TrimSpace(date+" "+hd.Name))
	}
	f.Values["holidays"] = strings.Join(lines, "\n")
	return f, days, true
}

func (h *Handler) loadTimeFrame(w http.ResponseWriter, r *http.Request, ss *session) (pbxusers.StoredTimeFrame, bool) {
	tf, err := h.dir.GetTimeFrame(r.Context(), ss.Tenant, r.PathValue("id"))
	switch {
	case errors.Is(err, pbxusers.ErrNotFound):
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return tf, false
	case err != nil:
		h.internal(w, r, ss, err)
		return tf, false
	}
	return tf, true
}

// showTimeFrame is the list with the form filled with one frame to edit.
func (h *Handler) showTimeFrame(w http.ResponseWriter, r *http.Request, ss *session) {
	tf, ok := h.loadTimeFrame(w, r, ss)
	if !ok {
		return
	}
	f, days, simple := simpleFrame(tf)
	if !simple {
		f = &form{Summary: fmt.Sprintf(textsFor(ss, r).get("frameNotSimple"), tf.ID)}
	}
	h.renderTimeFrame(w, r, ss, http.StatusOK, f, days, tf.ID, simple)
}

// saveTimeFrame replaces a frame through the admin API (PUT).
func (h *Handler) saveTimeFrame(w http.ResponseWriter, r *http.Request, ss *session) {
	cur, ok := h.loadTimeFrame(w, r, ss)
	if !ok {
		return
	}
	t := textsFor(ss, r)
	if _, _, simple := simpleFrame(cur); !simple {
		h.renderTimeFrame(w, r, ss, http.StatusConflict, &form{Summary: fmt.Sprintf(t.get("frameNotSimple"), cur.ID)}, nil, cur.ID, false)
		return
	}
	f, days, tf := timeFrameForm(r, t, cur.ID)
	if len(f.Problems) > 0 {
		h.renderTimeFrame(w, r, ss, http.StatusUnprocessableEntity, f, days, cur.ID, true)
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, "/timeframes/"+url.PathEscape(cur.ID), tf, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, timeFrameFields)
		h.renderTimeFrame(w, r, ss, statusOf(p), f, days, cur.ID, true)
		return
	}
	back(w, r, "/timeframes", "savedNamed", cur.ID)
}

// deleteTimeFrame deletes a frame; while answering rules use it the admin
// API refuses (409) and the page says which.
func (h *Handler) deleteTimeFrame(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/timeframes/"+url.PathEscape(id), nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f := &form{Summary: problemText(p)}
		h.renderTimeFrames(w, r, ss, p.Status, f, nil)
		return
	}
	back(w, r, "/timeframes", "deletedNamed", id)
}
