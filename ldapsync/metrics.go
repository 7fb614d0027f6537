package ldapsync

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sync's Prometheus metrics (see Syncer). One set serves
// every Syncer registered with the same Registerer.
type metrics struct {
	runs        *prometheus.CounterVec
	users       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
}

// registerMetrics registers the metrics with r, or reuses the ones a
// Syncer registered there before.
func registerMetrics(r prometheus.Registerer) (*metrics, error) {
	labels := []string{"tenant", "directory"}
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pbxgate", Subsystem: "ldap_sync", Name: "runs_total",
			Help: "LDAP sync runs by outcome (succeeded, blocked, failed); dry runs are not counted.",
		}, append(labels, "status")),
		users: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pbxgate", Subsystem: "ldap_sync", Name: "users_total",
			Help: "Users handled by LDAP sync runs by action (created, updated, deactivated, reactivated, unchanged, withheld, conflict, error).",
		}, append(labels, "action")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pbxgate", Subsystem: "ldap_sync", Name: "duration_seconds",
			Help:    "Duration of LDAP sync runs.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
		}, labels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "pbxgate", Subsystem: "ldap_sync", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last LDAP sync run that succeeded.",
		}, labels),
	}
	var errs []error
	register := func(c prometheus.Collector) prometheus.Collector {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector
			}
			errs = append(errs, err)
		}
		return c
	}
	// A collector registered before with the same descriptors has the same
	// type: these assertions only fail if someone else registered
	// incompatible metrics under these names, which Register reports.
	if c, ok := register(m.runs).(*prometheus.CounterVec); ok {
		m.runs = c
	}
	if c, ok := register(m.users).(*prometheus.CounterVec); ok {
		m.users = c
	}
	if c, ok := register(m.duration).(*prometheus.HistogramVec); ok {
		m.duration = c
	}
	if c, ok := register(m.lastSuccess).(*prometheus.GaugeVec); ok {
		m.lastSuccess = c
	}
	return m, errors.Join(errs...)
}

// start makes the directory's series exist at zero before its first run,
// so a dashboard or an alert on rate() sees them from the start.
func (m *metrics) start(cfg *Config) {
	if m == nil {
		return
	}
	t, d := cfg.Tenant, cfg.Name
	for _, st := range []string{"succeeded", "blocked", "failed"} {
		m.runs.WithLabelValues(t, d, st)
	}
	for _, a := range []string{"created", "updated", "deactivated", "reactivated", "unchanged", "withheld", "conflict", "error"} {
		m.users.WithLabelValues(t, d, a)
	}
}

// observe counts a finished run; dry runs are not counted.
func (m *metrics) observe(cfg *Config, p *Plan, elapsed time.Duration) {
	if m == nil || p.DryRun {
		return
	}
	t, d := cfg.Tenant, cfg.Name
	m.runs.WithLabelValues(t, d, string(p.Status)).Inc()
	c := p.Counts
	for action, n := range map[string]int{
		"created": c.Created, "updated": c.Updated, "deactivated": c.Deactivated, "reactivated": c.Reactivated,
		"unchanged": c.Unchanged, "withheld": c.Withheld, "conflict": c.Conflicts, "error": c.Errors,
	} {
		m.users.WithLabelValues(t, d, action).Add(float64(n))
	}
	m.duration.WithLabelValues(t, d).Observe(elapsed.Seconds())
	if p.Status == "succeeded" {
		m.lastSuccess.WithLabelValues(t, d).SetToCurrentTime()
	}
}
