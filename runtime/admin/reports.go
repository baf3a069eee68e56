package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/report"
)

// report serves report/?date=YYYY-MM-DD|today&days=N: the days ending at
// date, newest first, each with its report (or why there is none) and its
// rendering for a terminal; or report/?recent=N: the N most recent days that
// have a report (today's built on the spot), newest first.
func (c *call) report() {
	q := c.r.URL.Query()
	if v := q.Get(adminapi.ReportRecent); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > report.MaxDays || q.Has("date") || q.Has("days") {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("recent=%q is not a number from 1 to %d, or comes with date or days", v, report.MaxDays),
				"use ?recent=7 alone, or ?date= and ?days=")
			return
		}
		out, err := c.h.reports.Recent(c.r.Context(), n)
		if err != nil {
			c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "see the server log")
			return
		}
		c.ok(map[string]any{"today": c.h.reports.Today(), "days": out})
		return
	}
	days := 1
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > report.MaxDays {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("days=%q is not a number from 1 to %d", v, report.MaxDays),
				"use ?days=7, or leave it out for one day")
			return
		}
		days = n
	}
	out, err := c.h.reports.Days(c.r.Context(), q.Get("date"), days)
	if errors.Is(err, report.ErrBadDate) {
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "use ?date=today or ?date=YYYY-MM-DD (a past day or today)")
		return
	}
	if err != nil {
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "see the server log")
		return
	}
	ans := adminapi.ReportAnswer{Today: c.h.reports.Today(), Days: make([]adminapi.ReportDay, len(out))}
	for i, d := range out {
		ans.Days[i] = dayView(d)
	}
	c.ok(ans)
}
