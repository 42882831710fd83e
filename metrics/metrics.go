// Package metrics keeps the exporter's Prometheus metrics and delivers them:
// pushed to a Pushgateway or written to a node_exporter textfile after a
// one-shot run, or served on /metrics by a long-running scheduler.
package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/source"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
)

// Job is the Pushgateway job name.
const Job = "auditlog_exporter"

// Metrics is one registry of the exporter's metrics. Safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	records    *prometheus.CounterVec
	windows    *prometheus.CounterVec
	watermark  *prometheus.GaugeVec
	retries    *prometheus.CounterVec
	failures   *prometheus.CounterVec
	anomalies  *prometheus.CounterVec
	rateLimit  *prometheus.GaugeVec
	refused    *prometheus.CounterVec
	waited     *prometheus.CounterVec
	retention  *prometheus.GaugeVec
	lookback   *prometheus.CounterVec
	runSeconds prometheus.Gauge
	runLast    prometheus.Gauge
	runOK      prometheus.Gauge
}

// New returns an empty set of metrics on its own registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_records_exported_total",
			Help: "Audit records written to every sink."}, []string{"account"}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_windows_exported_total",
			Help: "Windows committed in every sink."}, []string{"account"}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditlog_exporter_watermark_timestamp_seconds",
			Help: "End of the last window committed without a gap (Unix time): time() minus this is how far behind the export is."}, []string{"account"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_request_retries_total",
			Help: "API requests repeated, by cause (throttled, server_error, network, bad_body, token_expired, token_endpoint)."}, []string{"account", "cause"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_failures_total",
			Help: "Runs in which an account failed, by error class (retryable, permanent, auth, config)."}, []string{"account", "class"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_source_anomalies_total",
			Help: "What the API served that a window's export noticed, by kind: conflicting_duplicate (a Uuid served again with other content; the first copy is exported), duplicate (a Uuid served again), outside (a record of the padded query outside the window), uncounted_window (no @odata.count), stored_duplicates_window (the count counts rows the service stores twice)."}, []string{"account", "kind"}),
		rateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditlog_exporter_request_rate_limit",
			Help: "The request rate the adaptive controller allows now (requests per second); 0 while the API never throttled and no ceiling is set."}, []string{"account"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_requests_throttled_total",
			Help: "API requests refused with 429 (or 503 with Retry-After)."}, []string{"account"}),
		waited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_request_wait_seconds_total",
			Help: "Time requests waited for the adaptive request rate or a Retry-After pause."}, []string{"account"}),
		retention: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditlog_exporter_retention_headroom_seconds",
			Help: "How far the oldest window still to export (the watermark, or a backfill's start) lies ahead of the API's retention horizon; at 0 records start to be deleted before they are exported."}, []string{"account"}),
		lookback: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlog_exporter_lookback_total",
			Help: "What runs' look-back did, by what: windows_checked (windows counted or listed again), requests (API requests it made), late_records (records that became visible after their window was exported, appended), deltas (delta objects written)."}, []string{"account", "what"}),
		runSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditlog_exporter_last_run_duration_seconds", Help: "Duration of the last run."}),
		runLast:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditlog_exporter_last_run_timestamp_seconds", Help: "When the last run ended (Unix time)."}),
		runOK:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "auditlog_exporter_last_run_success", Help: "Whether every account of the last run succeeded (1) or not (0)."}),
	}
	m.reg.MustRegister(m.records, m.windows, m.watermark, m.retries, m.failures, m.anomalies, m.rateLimit, m.refused, m.waited, m.retention, m.lookback, m.runSeconds, m.runLast, m.runOK)
	return m
}

// Registry returns the registry, for tests and custom delivery.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// WindowExported records one committed window.
func (m *Metrics) WindowExported(account string, records int, st source.Stats) {
	m.windows.WithLabelValues(account).Inc()
	m.records.WithLabelValues(account).Add(float64(records))
	for cause, n := range st.RetryCauses {
		m.retries.WithLabelValues(account, string(cause)).Add(float64(n))
	}
	m.rateLimit.WithLabelValues(account).Set(st.Rate)
	m.refused.WithLabelValues(account).Add(float64(st.Throttled))
	m.waited.WithLabelValues(account).Add(st.Waited.Seconds())
	for kind, n := range map[string]int{"conflicting_duplicate": st.Conflicts, "duplicate": st.Duplicates, "outside": st.Outside} {
		m.anomalies.WithLabelValues(account, kind).Add(float64(n))
	}
	switch st.Completeness {
	case source.CompletenessUncounted:
		m.anomalies.WithLabelValues(account, "uncounted_window").Inc()
	case source.CompletenessStoredDuplicates:
		m.anomalies.WithLabelValues(account, "stored_duplicates_window").Inc()
	}
}

// RetentionHeadroom records how far account's oldest window to export lies
// ahead of the retention horizon.
func (m *Metrics) RetentionHeadroom(account string, d time.Duration) {
	m.retention.WithLabelValues(account).Set(d.Seconds())
}

// WatermarkMoved records account's new watermark.
func (m *Metrics) WatermarkMoved(account string, t time.Time) {
	m.watermark.WithLabelValues(account).Set(float64(t.Unix()))
}

// LookedBack records one run's look-back of an account.
func (m *Metrics) LookedBack(account string, checked, requests, late, deltas int) {
	for what, n := range map[string]int{"windows_checked": checked, "requests": requests, "late_records": late, "deltas": deltas} {
		m.lookback.WithLabelValues(account, what).Add(float64(n))
	}
}

// AccountFailed records a failed account of one run.
func (m *Metrics) AccountFailed(account, class string) {
	m.failures.WithLabelValues(account, class).Inc()
}

// RunFinished records a run's end.
func (m *Metrics) RunFinished(d time.Duration, ok bool) {
	m.runSeconds.Set(d.Seconds())
	m.runLast.Set(float64(time.Now().Unix()))
	if ok {
		m.runOK.Set(1)
	} else {
		m.runOK.Set(0)
	}
}

// Push sends every metric to a Pushgateway, replacing the job's group.
func (m *Metrics) Push(ctx context.Context, url string) error {
	if err := push.New(url, Job).Gatherer(m.reg).PushContext(ctx); err != nil {
		return fmt.Errorf("push metrics to %s: %w", url, err)
	}
	return nil
}

// WriteTextfile writes every metric for node_exporter's textfile collector
// (atomically: temporary file, then rename).
func (m *Metrics) WriteTextfile(path string) error {
	if err := prometheus.WriteToTextfile(path, m.reg); err != nil {
		return fmt.Errorf("write metrics textfile: %w", err)
	}
	return nil
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n") // a prober that went away reads nothing either way
	})
	return mux
}
