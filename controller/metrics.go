package controller

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/universe-operator/universe-operator/clients/marathon"
)

// metrics are the controller's Prometheus collectors.
type metrics struct {
	reconciles      *prometheus.CounterVec
	reconcileDur    *prometheus.HistogramVec
	queueDepth      prometheus.GaugeFunc
	queueWaiting    prometheus.GaugeFunc
	passes          *prometheus.CounterVec
	passDur         prometheus.Histogram
	writes          *prometheus.CounterVec
	marathonEvents  *prometheus.CounterVec
	eventStream     prometheus.Gauge
	pruneRefused    prometheus.Counter
	pruneRefusing   prometheus.Gauge
	releaseInfo     *prometheus.GaugeVec
	releases        *prometheus.GaugeVec
	sourcesHealthy  prometheus.Gauge
	webhookTriggers *prometheus.CounterVec

	mu     sync.Mutex
	info   map[string]prometheus.Labels // release -> its info series' labels
	bySync map[string]int
}

func newMetrics(reg *prometheus.Registry, q *queue) (*metrics, error) {
	m := &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "universe_operator_reconcile_total",
			Help: "Reconciles of a release by result (create, update, force-update, delete, wait, fail, nothing, orphan, error).",
		}, []string{"result"}),
		reconcileDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "universe_operator_reconcile_duration_seconds",
			Help:    "Duration of one release's reconcile by result.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "universe_operator_queue_depth",
			Help: "Releases ready to be reconciled.",
		}, func() float64 { return float64(q.Len()) }),
		queueWaiting: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "universe_operator_queue_delayed",
			Help: "Releases waiting for a retry or recheck delay.",
		}, func() float64 { return float64(q.Pending()) }),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "universe_operator_passes_total",
			Help: "Full passes (Marathon listed, every release queued) by trigger and result.",
		}, []string{"trigger", "result"}),
		passDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "universe_operator_list_duration_seconds",
			Help:    "Duration of the full read of Marathon's owned apps and launch queue.",
			Buckets: prometheus.DefBuckets,
		}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "universe_operator_marathon_writes_total",
			Help: "App writes the controller made, by kind (create, update, force-update, delete) and outcome (ok, locked, rejected, error, unknown).",
		}, []string{"kind", "outcome"}),
		marathonEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "universe_operator_marathon_events_total",
			Help: "Marathon events received by type (hints to re-read).",
		}, []string{"type"}),
		eventStream: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "universe_operator_marathon_event_stream_connected",
			Help: "1 when the Marathon event stream is connected.",
		}),
		pruneRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "universe_operator_prune_refused_total",
			Help: "Prune decisions that refused to delete releases removed from Git.",
		}),
		pruneRefusing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "universe_operator_prune_refusing",
			Help: "1 while the last prune decision refused to delete.",
		}),
		releaseInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "universe_operator_release_info",
			Help: "One series per release (value 1) with its package, version, sync state and health.",
		}, []string{"release", "package", "version", "sync", "health"}),
		releases: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "universe_operator_releases",
			Help: "Releases by sync state.",
		}, []string{"sync"}),
		sourcesHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "universe_operator_sources_healthy",
			Help: "1 when every source loaded fine on its last check.",
		}),
		webhookTriggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "universe_operator_webhook_triggers_total",
			Help: "Verified Git pushes by effect (refreshed: a source matched, ignored: none did).",
		}, []string{"effect"}),
		info:   map[string]prometheus.Labels{},
		bySync: map[string]int{},
	}
	for _, c := range []prometheus.Collector{m.reconciles, m.reconcileDur, m.queueDepth, m.queueWaiting,
		m.passes, m.passDur, m.writes, m.marathonEvents, m.eventStream,
		m.pruneRefused, m.pruneRefusing, m.releaseInfo, m.releases, m.sourcesHealthy, m.webhookTriggers} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Process and Go runtime metrics, unless the caller registered them.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// MarathonObserver returns the clients/marathon Observer that feeds the
// controller's request metrics; pass it in marathon.Options.Observer.
func MarathonObserver(reg *prometheus.Registry) (marathon.Observer, error) {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "universe_operator_marathon_requests_total",
		Help: "Marathon HTTP attempts by method, path template, status code and outcome (ok, client_error, server_error, error).",
	}, []string{"method", "path", "code", "outcome"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "universe_operator_marathon_request_duration_seconds",
		Help:    "Marathon HTTP attempt latency by method, path template and outcome.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "path", "outcome"})
	for _, c := range []prometheus.Collector{reqs, dur} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return marathon.ObserverFunc(func(method, path string, code int, d time.Duration, err error) {
		o := outcomeOf(code, err)
		reqs.WithLabelValues(method, path, strconv.Itoa(code), o).Inc()
		dur.WithLabelValues(method, path, o).Observe(d.Seconds())
	}), nil
}

func outcomeOf(code int, err error) string {
	switch {
	case err != nil || code == 0:
		return "error"
	case code >= 500:
		return "server_error"
	case code >= 400:
		return "client_error"
	default:
		return "ok"
	}
}

// setInfo sets a release's info series, deleting its previous one.
func (m *metrics) setInfo(release, pkg, version, sync, health string) {
	l := prometheus.Labels{"release": release, "package": pkg, "version": version, "sync": sync, "health": health}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.info[release]; ok {
		if sameLabels(old, l) {
			return
		}
		m.releaseInfo.Delete(old)
		m.countLocked(old["sync"], -1)
	}
	m.info[release] = l
	m.releaseInfo.With(l).Set(1)
	m.countLocked(sync, 1)
}

// dropInfo deletes a release's series (the release is gone).
func (m *metrics) dropInfo(release string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.info[release]; ok {
		m.releaseInfo.Delete(old)
		delete(m.info, release)
		m.countLocked(old["sync"], -1)
	}
}

func (m *metrics) countLocked(sync string, delta int) {
	m.bySync[sync] += delta
	m.releases.WithLabelValues(sync).Set(float64(m.bySync[sync]))
}

func sameLabels(a, b prometheus.Labels) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
