package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg      prometheus.Gatherer
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	store    *prometheus.HistogramVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	var g prometheus.Gatherer = prometheus.DefaultGatherer
	if r == nil {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		r, g = reg, reg
	} else if gg, ok := r.(prometheus.Gatherer); ok {
		g = gg
	}
	m := &metrics{
		reg: g,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "yiyang_http_requests_total",
			Help: "FHIR requests by interaction, resource type and status code.",
		}, []string{"interaction", "type", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yiyang_http_request_duration_seconds",
			Help:    "FHIR request latency by interaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"interaction"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "yiyang_store_duration_seconds",
			Help:    "Storage call latency by backend and operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"backend", "op"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.store} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observe(interaction, typ string, status int, d time.Duration) {
	m.requests.WithLabelValues(interaction, typ, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(interaction).Observe(d.Seconds())
}

// InstrumentStore wraps a store so that every call's latency is recorded in
// yiyang_store_duration_seconds; the server does this itself.
func (s *Server) instrument(st resources.Store) resources.Store {
	return &timedStore{Store: st, h: s.metrics.store, backend: st.Backend()}
}

type timedStore struct {
	resources.Store
	h       *prometheus.HistogramVec
	backend string
}

func (t *timedStore) since(op string, start time.Time) {
	t.h.WithLabelValues(t.backend, op).Observe(time.Since(start).Seconds())
}

func (t *timedStore) Create(ctx context.Context, p resources.CreateParams) (resources.Resource, error) {
	defer t.since("create", time.Now())
	return t.Store.Create(ctx, p)
}

func (t *timedStore) Read(ctx context.Context, typ, id string) (resources.Resource, error) {
	defer t.since("read", time.Now())
	return t.Store.Read(ctx, typ, id)
}

func (t *timedStore) VRead(ctx context.Context, typ, id string, v int64) (resources.Resource, error) {
	defer t.since("vread", time.Now())
	return t.Store.VRead(ctx, typ, id, v)
}

func (t *timedStore) Update(ctx context.Context, p resources.UpdateParams) (resources.Resource, bool, error) {
	defer t.since("update", time.Now())
	return t.Store.Update(ctx, p)
}

func (t *timedStore) Delete(ctx context.Context, p resources.DeleteParams) (resources.Resource, error) {
	defer t.since("delete", time.Now())
	return t.Store.Delete(ctx, p)
}

func (t *timedStore) History(ctx context.Context, p resources.HistoryParams) (resources.HistoryPage, error) {
	defer t.since("history", time.Now())
	return t.Store.History(ctx, p)
}

func (t *timedStore) WithTx(ctx context.Context, fn func(context.Context, resources.Ops) error) error {
	defer t.since("transaction", time.Now())
	return t.Store.WithTx(ctx, fn)
}

// LogHandler wraps h so that records logged with a request's context carry
// its request_id.
func LogHandler(h slog.Handler) slog.Handler { return ridHandler{h} }

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ridHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ridHandler{h.Handler.WithAttrs(as)}
}
func (h ridHandler) WithGroup(n string) slog.Handler { return ridHandler{h.Handler.WithGroup(n)} }
