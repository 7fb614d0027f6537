package smtp

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// workerMetrics are a Worker's metrics (see the Worker doc). They exist
// whether or not they are registered.
type workerMetrics struct {
	sent, failed, retried, cancelled *prometheus.CounterVec
	relayErrors                      *prometheus.CounterVec
	relayUp                          prometheus.Gauge
	outbox                           *outboxCollector
}

func newWorkerMetrics(dir *pbxusers.Directory) *workerMetrics {
	counter := func(name, help string, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pbxgate", Subsystem: "mail", Name: name, Help: help,
		}, []string{label})
	}
	m := &workerMetrics{
		sent:        counter("sent_total", "Outbox messages the relay accepted.", "kind"),
		failed:      counter("failed_total", "Outbox messages marked failed (permanent failure or out of attempts).", "kind"),
		retried:     counter("retried_total", "Delivery attempts rescheduled after a temporary failure or a relay problem.", "kind"),
		cancelled:   counter("cancelled_total", "Outbox messages cancelled because their reason went away.", "kind"),
		relayErrors: counter("relay_errors_total", "Failures to connect to, secure or authenticate with the relay.", "stage"),
		relayUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "pbxgate", Subsystem: "mail", Name: "relay_up",
			Help: "1 after a message reached the relay, 0 after a relay problem.",
		}),
		outbox: &outboxCollector{dir: dir, desc: prometheus.NewDesc("pbxgate_mail_outbox_messages",
			"Outbox messages of every tenant per status.", []string{"status"}, nil)},
	}
	// Every series exists from the start, at zero, so a dashboard or an
	// alert on rate() sees it before the first event.
	for _, k := range []pbxusers.MailKind{pbxusers.MailWelcome, pbxusers.MailPasswordReset, pbxusers.MailTest} {
		for _, c := range []*prometheus.CounterVec{m.sent, m.failed, m.retried, m.cancelled} {
			c.WithLabelValues(string(k))
		}
	}
	for _, st := range []Stage{StageConnect, StageTLS, StageAuth} {
		m.relayErrors.WithLabelValues(string(st))
	}
	return m
}

// register registers every metric, or none.
func (m *workerMetrics) register(r prometheus.Registerer) error {
	cs := []prometheus.Collector{m.sent, m.failed, m.retried, m.cancelled, m.relayErrors, m.relayUp, m.outbox}
	for i, c := range cs {
		if err := r.Register(c); err != nil {
			for _, done := range cs[:i] {
				r.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// outboxCollector reports Directory.MailCounts at every scrape.
type outboxCollector struct {
	dir  *pbxusers.Directory
	desc *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A store error is reported as an
// invalid metric, which fails the scrape visibly.
func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.dir.MailCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, fmt.Errorf("count outbox: %w", err))
		return
	}
	for _, s := range []pbxusers.MailStatus{pbxusers.MailPending, pbxusers.MailSent, pbxusers.MailFailed, pbxusers.MailCancelled} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
