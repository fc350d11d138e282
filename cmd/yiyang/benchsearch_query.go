package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meizhou-yiyang/yiyang/resources/index"
	"github.com/meizhou-yiyang/yiyang/resources/search"
)

// searchKind is one kind of search the bench measures; params draws the
// parameters of one request from the generated data, so that it matches.
type searchKind struct {
	name   string
	typ    string
	params func(d searchData, r *rand.Rand) url.Values
}

var searchKinds = []searchKind{
	{"obs-patient-code-date", "Observation", func(d searchData, r *rand.Rand) url.Values {
		o := d.observation(r.IntN(d.observations))
		from := o.when.AddDate(0, 0, -r.IntN(365)).Format(time.DateOnly)
		return url.Values{"patient": {genID(genPatient, o.patient)}, "code": {"http://loinc.org|" + o.code.code},
			"date": {"ge" + from}, "_sort": {"date"}}
	}},
	{"obs-code-value", "Observation", func(d searchData, r *rand.Rand) url.Values {
		c := obsCodes[r.IntN(len(obsCodes))]
		v := c.mean + c.sd*1.5*r.Float64()
		return url.Values{"code": {"http://loinc.org|" + c.code},
			"value-quantity": {fmt.Sprintf("gt%.*f|http://unitsofmeasure.org|%s", c.decimals, v, c.unit)}}
	}},
	// A registration desk finds a patient by family name and date of birth:
	// a selective lookup whose answer is about one patient at any
	// population, unlike a birth year, which grows with it.
	{"patient-name-birthdate", "Patient", func(d searchData, r *rand.Rand) url.Values {
		p := d.person(genPatient, r.IntN(d.patients))
		return url.Values{"name": {p.family}, "birthdate": {p.birth.Format(time.DateOnly)}}
	}},
	{"obs-subject-identifier", "Observation", func(d searchData, r *rand.Rand) url.Values {
		return url.Values{"subject:Patient.identifier": {patientIdentifierSystem + "|" + patientIdentifier(r.IntN(d.patients))}}
	}},
	{"patient-has-obs-code", "Patient", func(d searchData, r *rand.Rand) url.Values {
		return url.Values{"_has:Observation:patient:code": {"http://loinc.org|" + obsCodes[r.IntN(len(obsCodes))].code}}
	}},
	{"encounter-include-revinclude", "Encounter", func(d searchData, r *rand.Rand) url.Values {
		return url.Values{"patient": {genID(genPatient, r.IntN(d.patients))},
			"_include": {"Encounter:practitioner"}, "_revinclude": {"Observation:encounter"}}
	}},
}

// newKindRand is the source of the measured parameters of kind ki.
func newKindRand(d searchData, ki int) *rand.Rand { return rand.New(rand.NewPCG(d.seed, uint64(ki))) }

// kindResult is what the bench measured for one search kind at one scale.
type kindResult struct {
	n, errors, empty      int
	firstError            string
	p50, p95, p99, maxLat time.Duration
	matches, included     float64 // means per request (matches on the first page)
	medianMatches         int     // median matches per request: how selective the kind is
	rps                   float64 // measured requests per second
	example               string  // one request, for the report
}

// runSearchKind sends n requests of kind k (after a short unmeasured warmup
// with other parameters) with conns concurrent connections.
func runSearchKind(ctx context.Context, client *http.Client, base string, d searchData, k searchKind, ki, n, conns int) (kindResult, error) {
	mk := func(seed uint64, count int) []string {
		r := newKindRand(d, ki)
		if seed != 0 {
			r = rand.New(rand.NewPCG(d.seed+seed, uint64(ki)))
		}
		urls := make([]string, count)
		for i := range urls {
			urls[i] = base + "/" + k.typ + "?" + k.params(d, r).Encode()
		}
		return urls
	}
	if _, err := sendAll(ctx, client, mk(1000, max(n/5, 10)), conns); err != nil {
		return kindResult{}, err
	}
	urls := mk(0, n)
	t0 := time.Now()
	outs, err := sendAll(ctx, client, urls, conns)
	elapsed := time.Since(t0)
	if err != nil {
		return kindResult{}, err
	}
	res := kindResult{n: n, example: strings.TrimPrefix(urls[0], base), rps: float64(n) / elapsed.Seconds()}
	var lat []time.Duration
	var m, inc int
	var ms []int
	for _, o := range outs {
		if o.err != "" {
			res.errors++
			if res.firstError == "" {
				res.firstError = o.err
			}
			continue
		}
		lat = append(lat, o.lat)
		ms = append(ms, o.matches)
		m += o.matches
		inc += o.included
		if o.matches == 0 {
			res.empty++
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50, res.p95, res.p99, res.maxLat = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99), lat[len(lat)-1]
		res.matches, res.included = float64(m)/float64(len(lat)), float64(inc)/float64(len(lat))
		slices.Sort(ms)
		res.medianMatches = ms[(len(ms)-1)/2]
	}
	return res, nil
}

type searchOutcome struct {
	lat               time.Duration
	matches, included int
	err               string
}

// sendAll GETs every URL, conns at a time, and returns each one's outcome.
func sendAll(ctx context.Context, client *http.Client, urls []string, conns int) ([]searchOutcome, error) {
	outs := make([]searchOutcome, len(urls))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conns, len(urls)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(urls) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				outs[i] = searchOnce(ctx, client, urls[i])
			}
		})
	}
	wg.Wait()
	return outs, ctx.Err()
}

var (
	modeMatch   = []byte(`"mode":"match"`)
	modeInclude = []byte(`"mode":"include"`)
)

func searchOnce(ctx context.Context, client *http.Client, u string) searchOutcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return searchOutcome{err: err.Error()}
	}
	req.Header.Set("Accept", "application/fhir+json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return searchOutcome{err: err.Error()}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	o := searchOutcome{lat: time.Since(t0)}
	switch {
	case err != nil:
		o.err = err.Error()
	case resp.StatusCode != http.StatusOK:
		o.err = fmt.Sprintf("HTTP %d: %.300s", resp.StatusCode, body)
	default:
		o.matches, o.included = bytes.Count(body, modeMatch), bytes.Count(body, modeInclude)
	}
	return o
}

// explainedStatement is one SQL statement of a search with its plan.
type explainedStatement struct {
	sql     string
	elapsed time.Duration
	plan    string // custom plan, for these values
	generic string // generic plan, as a prepared statement gets after five runs
}

// recordingExecutor runs the search engine's statements on a pool and
// keeps them with their run time.
type recordingExecutor struct {
	pool  *pgxpool.Pool
	stmts []explainedStatement
	args  [][]any
}

func (e *recordingExecutor) Each(ctx context.Context, sql string, args []any, fn func(scan func(dest ...any) error) error) error {
	t0 := time.Now()
	rows, err := e.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	err = rows.Err()
	e.stmts = append(e.stmts, explainedStatement{sql: sql, elapsed: time.Since(t0)})
	e.args = append(e.args, args)
	return err
}

// explainSearch runs one search of kind k as the PostgreSQL store does
// and returns its slowest statement with EXPLAIN (ANALYZE, BUFFERS).
func explainSearch(ctx context.Context, pool *pgxpool.Pool, d searchData, k searchKind, ki int) (explainedStatement, []any, error) {
	r := newKindRand(d, ki) // as for the first measured request
	q, err := search.Parse(search.R4, k.typ, k.params(d, r), search.Options{})
	if err != nil {
		return explainedStatement{}, nil, err
	}
	ex := &recordingExecutor{pool: pool}
	engine := search.Engine{Dialect: search.Postgres, Fold: index.Fold, Convert: index.CanonicalUnit}
	if _, err := engine.Search(ctx, ex, q); err != nil {
		return explainedStatement{}, nil, err
	}
	if len(ex.stmts) == 0 {
		return explainedStatement{}, nil, fmt.Errorf("no statement ran")
	}
	slow := 0
	for i, s := range ex.stmts {
		if s.elapsed > ex.stmts[slow].elapsed {
			slow = i
		}
	}
	st, args := ex.stmts[slow], ex.args[slow]
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return st, args, err
	}
	defer conn.Release()
	if st.plan, err = explainOn(ctx, conn.Conn(), st.sql, args); err != nil {
		return st, args, err
	}
	// pgx prepares every statement and the searches of a kind share one
	// SQL text, so after five runs PostgreSQL may switch to a generic plan
	// that ignores the values; show that plan too. EXPLAIN with bind
	// parameters would plan for the values, hence PREPARE and EXECUTE.
	lits := make([]string, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case string:
			lits[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		default:
			lits[i] = fmt.Sprint(a)
		}
	}
	for _, stmt := range []string{"PREPARE benchs_explain AS " + st.sql, "SET plan_cache_mode = force_generic_plan"} {
		if _, err := conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
			return st, args, fmt.Errorf("%.40s: %w", stmt, err)
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), "RESET plan_cache_mode; DEALLOCATE benchs_explain", pgx.QueryExecModeSimpleProtocol)
	st.generic, err = explainOn(ctx, conn.Conn(), "EXECUTE benchs_explain("+strings.Join(lits, ", ")+")",
		[]any{pgx.QueryExecModeSimpleProtocol})
	return st, args, err
}

func explainOn(ctx context.Context, conn *pgx.Conn, sql string, args []any) (string, error) {
	rows, err := conn.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}
