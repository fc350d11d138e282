package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Coding is one system|code pair a terminology filter stands for.
type Coding struct {
	System, Code string
}

// Terminology answers the token modifiers that need code systems and value
// sets: :in and :not-in (a ValueSet's expansion), :below and :above (a code's
// descendants or ancestors). The server implements it over package
// terminology; this package only calls it from Resolve.
type Terminology interface {
	// Expand returns the codes of the ValueSet that ref names (a canonical
	// url, optionally |version, or ValueSet/id).
	Expand(ctx context.Context, ref string) ([]Coding, error)
	// Below returns code and every code below it in system's hierarchy.
	Below(ctx context.Context, system, code string) ([]Coding, error)
	// Above returns code and every code above it in system's hierarchy.
	Above(ctx context.Context, system, code string) ([]Coding, error)
}

// MaxResolvedCodes bounds the codes that the terminology filters of one
// search may stand for together.
const MaxResolvedCodes = 50_000

// needsTerminology reports whether f is a token filter that Resolve fills.
func needsTerminology(f Filter) bool {
	switch f.Modifier {
	case "in", "not-in", "above", "below":
		return f.Param.Type == "token"
	}
	return false
}

// Resolve fills Value.Codes of every :in, :not-in, :below and :above token
// filter of q, in chains and _has too; the compiler refuses such filters
// unresolved. Errors of t about the request are returned naming the
// parameter.
func Resolve(ctx context.Context, q *Query, t Terminology) error {
	total := 0
	var walk func(f *Filter) error
	walk = func(f *Filter) error {
		switch {
		case f.Has != nil:
			return walk(&f.Has.Filter)
		case f.Chain != nil:
			return walk(&f.Chain.Filter)
		case !needsTerminology(*f):
			return nil
		}
		key := f.Param.Code + ":" + f.Modifier
		for i := range f.Values {
			v := &f.Values[i]
			var codes []Coding
			var err error
			switch f.Modifier {
			case "in", "not-in":
				codes, err = t.Expand(ctx, v.URL)
			case "below":
				codes, err = t.Below(ctx, v.System, v.Code)
			case "above":
				codes, err = t.Above(ctx, v.System, v.Code)
			}
			if err != nil {
				return located(err, key)
			}
			total += len(codes)
			if total > MaxResolvedCodes {
				return resources.Invalid("too-costly", key, fmt.Sprintf(
					"the terminology filters of this search stand for more than %d codes together; narrow them", MaxResolvedCodes))
			}
			v.Codes, v.Resolved = codes, true
		}
		return nil
	}
	for i := range q.Filters {
		if err := walk(&q.Filters[i]); err != nil {
			return err
		}
	}
	return nil
}

// located adds the parameter to the issues of an InvalidError that name no
// location.
func located(err error, key string) error {
	var inv *resources.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	out := &resources.InvalidError{Issues: make([]resources.Issue, len(inv.Issues))}
	for i, is := range inv.Issues {
		if len(is.Expression) == 0 {
			is.Expression = []string{key}
		}
		out.Issues[i] = is
	}
	return out
}

// inlineCodes is how many codes are bound one pair at a time; longer lists
// are bound as one or two parameters (Dialect.Pairs), within SQLite's 32766
// and PostgreSQL's 65535 bind parameters whatever their length.
const inlineCodes = 64

// codes compiles a resolved terminology filter value against token index
// alias x: the entry's (code, system) is one of the value's codes.
func (b *builder) codes(x string, f Filter, v Value) (string, error) {
	if !v.Resolved {
		return "", resources.Invalid("not-supported", f.Param.Code+":"+f.Modifier,
			":"+f.Modifier+" needs terminology, which this search was not given")
	}
	if len(v.Codes) == 0 {
		return "1 = 0", nil
	}
	if len(v.Codes) <= inlineCodes || b.d.Pairs == nil {
		rows := make([]string, len(v.Codes))
		for i, c := range v.Codes {
			rows[i] = fmt.Sprintf("(%s, %s)", b.arg(c.Code), b.arg(c.System))
		}
		return fmt.Sprintf("(%s.code, %s.system) IN (VALUES %s)", x, x, strings.Join(rows, ", ")), nil
	}
	codes, systems := make([]string, len(v.Codes)), make([]string, len(v.Codes))
	for i, c := range v.Codes {
		codes[i], systems[i] = c.Code, c.System
	}
	return fmt.Sprintf("(%s.code, %s.system) IN (%s)", x, x, b.d.Pairs(b.arg, codes, systems)), nil
}

// sqlitePairs selects (code, system) rows from one JSON array parameter.
func sqlitePairs(arg func(any) string, codes, systems []string) string {
	pairs := make([][2]string, len(codes))
	for i := range codes {
		pairs[i] = [2]string{codes[i], systems[i]}
	}
	js, _ := json.Marshal(pairs)
	return fmt.Sprintf("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(%s)", arg(string(js)))
}

// postgresPairs selects (code, system) rows from two text[] parameters.
func postgresPairs(arg func(any) string, codes, systems []string) string {
	return fmt.Sprintf("SELECT * FROM unnest(%s::text[], %s::text[])", arg(codes), arg(systems))
}
