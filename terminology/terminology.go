// Package terminology expands ValueSets and answers subsumption questions
// over the CodeSystem and ValueSet resources stored in the server itself: no
// terminology server and no files are needed at run time. The server loads
// terminology as ordinary resources (POST CodeSystem, POST ValueSet, or a
// transaction Bundle of them) and gives a Service a Source that finds them
// by canonical url.
//
// Expansion follows ValueSet.compose: include of explicit concepts, of whole
// code systems, of code systems narrowed by filters (is-a, descendent-of,
// is-not-a, generalizes, =, in, not-in, regex, exists), of other value sets
// (their intersection when one include names several), then exclude. A
// ValueSet without compose, or whose compose names a code system that is not
// stored, is expanded from its precomputed expansion.contains when it has
// one. Hierarchies come from nested concepts and the parent and child
// concept properties.
//
// Everything is bounded (Config): the size of an expansion, the depth of
// nested value sets (a cycle is an error), and the resources read for one
// answer. Errors about the request or the terminology content are
// *resources.InvalidError naming the ValueSet or CodeSystem and the reason.
package terminology

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/meizhou-yiyang/yiyang/resources"
)

// Source finds the terminology resources a Service reads. The server
// implements it with searches of its own store.
type Source interface {
	// Canonical returns the current resource of type typ (CodeSystem or
	// ValueSet) whose url is url and, when version is not empty, whose version
	// is version; the most recently updated one when several match. Errors:
	// resources.ErrNotFound when there is none.
	Canonical(ctx context.Context, typ, url, version string) (resources.Resource, error)
	// Read returns the current version of typ/id. Errors: resources.ErrNotFound,
	// resources.ErrGone.
	Read(ctx context.Context, typ, id string) (resources.Resource, error)
}

// Config bounds the work of one answer; zero values take the defaults.
type Config struct {
	// MaxExpansion is the most codes an expansion or a subsumption closure
	// may hold (default 10,000).
	MaxExpansion int
	// MaxDepth is how deeply value sets may include value sets (default 16).
	MaxDepth int
	// MaxReads is how many resources one answer may read (default 256).
	MaxReads int
	// CacheSize is how many parsed CodeSystems are kept between answers
	// (default 32), keyed by resource id and version.
	CacheSize int
}

// Defaults of Config.
const (
	DefaultMaxExpansion = 10_000
	DefaultMaxDepth     = 16
	DefaultMaxReads     = 256
	DefaultCacheSize    = 32
)

func (c Config) withDefaults() Config {
	if c.MaxExpansion <= 0 {
		c.MaxExpansion = DefaultMaxExpansion
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxReads <= 0 {
		c.MaxReads = DefaultMaxReads
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}

// Service answers terminology questions from a Source. It is safe for
// concurrent use.
type Service struct {
	src Source
	cfg Config

	mu    sync.Mutex
	cache map[string]*codeSystem
	order []string // cache keys, oldest first
}

// New returns a Service reading from src.
func New(src Source, cfg Config) *Service {
	return &Service{src: src, cfg: cfg.withDefaults(), cache: map[string]*codeSystem{}}
}

// MaxExpansion is the configured expansion limit.
func (s *Service) MaxExpansion() int { return s.cfg.MaxExpansion }

// errTooMany is an internal signal that a set outgrew the limit; callers
// turn it into a too-costly error naming what they were expanding.
var errTooMany = errors.New("too many concepts")

// invalid is an error about the request or the terminology content.
func invalid(code, format string, args ...any) error {
	return resources.Invalid(code, "", fmt.Sprintf(format, args...))
}

// session is the state of one answer: the resources read so far and the
// value sets being expanded (cycle detection).
type session struct {
	s     *Service
	ctx   context.Context
	reads int
	stack []string
	memo  map[string]*conceptSet
	cs    map[string]*codeSystem
}

func (s *Service) session(ctx context.Context) *session {
	return &session{s: s, ctx: ctx, memo: map[string]*conceptSet{}, cs: map[string]*codeSystem{}}
}

// read counts a resource read against MaxReads.
func (x *session) read(what string) error {
	x.reads++
	if x.reads > x.s.cfg.MaxReads {
		return invalid("too-costly", "reading %s would exceed the limit of %d terminology resources for one request", what, x.s.cfg.MaxReads)
	}
	return nil
}

// splitCanonical splits url|version.
func splitCanonical(ref string) (url, version string) {
	if i := strings.LastIndexByte(ref, '|'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// codeSystem returns the stored CodeSystem of a system url (and version),
// parsed, or an error saying it is not stored.
func (x *session) codeSystem(system, version string) (*codeSystem, error) {
	key := system + "|" + version
	if cs, ok := x.cs[key]; ok {
		return cs, nil
	}
	if err := x.read("CodeSystem " + system); err != nil {
		return nil, err
	}
	r, err := x.s.src.Canonical(x.ctx, "CodeSystem", system, version)
	if errors.Is(err, resources.ErrNotFound) {
		v := ""
		if version != "" {
			v = " version " + version
		}
		return nil, &missingError{invalid("not-found", "no CodeSystem with url %s%s is stored on this server; POST it first", system, v)}
	}
	if err != nil {
		return nil, err
	}
	cs, err := x.s.parsed(r)
	if err != nil {
		return nil, err
	}
	x.cs[key] = cs
	return cs, nil
}

// missingError marks a CodeSystem that is not stored: a ValueSet with a
// precomputed expansion falls back to it.
type missingError struct{ err error }

func (e *missingError) Error() string { return e.err.Error() }
func (e *missingError) Unwrap() error { return e.err }

// parsed returns the parsed CodeSystem of a stored resource, from the cache
// when this version was parsed before.
func (s *Service) parsed(r resources.Resource) (*codeSystem, error) {
	key := fmt.Sprintf("%s/%s/%d/%d", r.Type, r.ID, r.VersionID, r.LastUpdated.UnixMicro())
	s.mu.Lock()
	cs, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		return cs, nil
	}
	cs, err := parseCodeSystem(r.Data)
	if err != nil {
		return nil, invalid("invalid", "CodeSystem/%s: %v", r.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[key]; !ok {
		s.cache[key] = cs
		s.order = append(s.order, key)
		for len(s.order) > s.cfg.CacheSize {
			delete(s.cache, s.order[0])
			s.order = s.order[1:]
		}
	}
	return cs, nil
}

// concept finds code in the stored CodeSystem system.
func (x *session) concept(system, code string) (*codeSystem, *concept, error) {
	cs, err := x.codeSystem(system, "")
	if err != nil {
		return nil, nil, err
	}
	c := cs.byCode[code]
	if c == nil {
		return nil, nil, invalid("not-found", "code %q is not in CodeSystem %s", code, system)
	}
	return cs, c, nil
}

// Descendants returns code and every concept below it in the hierarchy of
// the stored CodeSystem system (the :below modifier).
func (s *Service) Descendants(ctx context.Context, system, code string) ([]Concept, error) {
	return s.related(ctx, system, code, children, "descendants")
}

// Ancestors returns code and every concept above it in the hierarchy of the
// stored CodeSystem system (the :above modifier).
func (s *Service) Ancestors(ctx context.Context, system, code string) ([]Concept, error) {
	return s.related(ctx, system, code, parents, "ancestors")
}

func (s *Service) related(ctx context.Context, system, code string, next func(*concept) []*concept, what string) ([]Concept, error) {
	cs, c, err := s.session(ctx).concept(system, code)
	if err != nil {
		return nil, err
	}
	set, err := closure(c, next, s.cfg.MaxExpansion)
	if errors.Is(err, errTooMany) {
		return nil, invalid("too-costly", "code %s of CodeSystem %s with its %s is more than %d codes, the limit of one expansion", code, system, what, s.cfg.MaxExpansion)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Concept, len(set))
	for i, c := range set {
		out[i] = Concept{System: cs.url, Version: cs.version, Code: c.code, Display: c.display}
	}
	return out, nil
}

// Subsumption outcomes of Subsumes (the R4 concept-subsumption-outcome codes).
const (
	Equivalent  = "equivalent"
	Subsumes    = "subsumes"
	SubsumedBy  = "subsumed-by"
	NotSubsumed = "not-subsumed"
)

// Subsumes says how codes a and b of the stored CodeSystem system relate:
// Equivalent, Subsumes (a is an ancestor of b), SubsumedBy or NotSubsumed.
func (s *Service) Subsumes(ctx context.Context, system, a, b string) (string, error) {
	x := s.session(ctx)
	_, ca, err := x.concept(system, a)
	if err != nil {
		return "", err
	}
	_, cb, err := x.concept(system, b)
	if err != nil {
		return "", err
	}
	if ca == cb {
		return Equivalent, nil
	}
	if reaches(cb, ca) {
		return Subsumes, nil
	}
	if reaches(ca, cb) {
		return SubsumedBy, nil
	}
	return NotSubsumed, nil
}

// reaches reports whether ancestor is above c (following parents).
func reaches(c, ancestor *concept) bool {
	seen := map[*concept]bool{}
	stack := []*concept{c}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range n.parents {
			if p == ancestor {
				return true
			}
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return false
}

// Details are what $lookup reports about a code.
type Details struct {
	Concept
	// Name is the CodeSystem's name.
	Name string
	// Parents and Children are the codes directly above and below.
	Parents, Children []string
	// Properties are the concept's property values by property code.
	Properties map[string][]string
}

// Lookup returns what the stored CodeSystem system says about code.
func (s *Service) Lookup(ctx context.Context, system, code string) (Details, error) {
	cs, c, err := s.session(ctx).concept(system, code)
	if err != nil {
		return Details{}, err
	}
	return Details{Concept: Concept{System: cs.url, Version: cs.version, Code: c.code, Display: c.display},
		Name: cs.name, Parents: codes(c.parents), Children: codes(c.children), Properties: c.props}, nil
}
