// Package operations holds Yiyang's $operations, one file per operation, and
// the Registry that the server routes from and the CapabilityStatement reads.
package operations

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"

	"github.com/meizhou-yiyang/yiyang/resources"
	"github.com/meizhou-yiyang/yiyang/resources/search"
	"github.com/meizhou-yiyang/yiyang/terminology"
)

// Operation is one $operation.
type Operation struct {
	// Name without the leading $, e.g. "validate".
	Name string
	// Definition is the canonical URL of its OperationDefinition.
	Definition string
	// System, Type and Instance say at which levels it may be invoked.
	System, Type, Instance bool
	// Types restricts type and instance invocations; empty means every type.
	Types []string
	// Invoke runs the operation.
	Invoke func(ctx context.Context, in Invocation) (Result, error)
	// Admin marks an operation that changes the server rather than reads
	// (say $reindex): at any level, the caller needs what a system-level
	// write needs (a create scope on every type; the admin role under the
	// built-in policy). The others need read access to the type they run
	// on; what they return is subject to the caller's scopes and roles.
	Admin bool
	// AnyAccess marks an operation that reads nothing stored at type level
	// ($validate of a posted resource): any access to the type will do
	// there, so that a writer that may not read can check what it sends.
	AnyAccess bool
}

// Invocation is one call of an operation.
type Invocation struct {
	Type, ID string
	Method   string
	Query    url.Values
	Body     []byte
	Ops      resources.Ops
	Parser   *resources.Parser
	// Search runs a search and renders it as a searchset Bundle whose links
	// repeat params; the server supplies it.
	Search func(ctx context.Context, q *search.Query, params url.Values) (Result, error)
	// Terminology answers from the server's CodeSystems and ValueSets.
	Terminology *terminology.Service
}

// Result is an operation's answer: a status, a FHIR JSON body and any
// headers to add (Content-Location of an asynchronous job).
type Result struct {
	Status int
	Body   []byte
	Header http.Header
}

// Registry is the set of operations a server offers. It is safe for
// concurrent use.
type Registry struct {
	mu  sync.RWMutex
	ops map[string]Operation
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{ops: map[string]Operation{}} }

// Register adds op; a second operation of the same name is an error.
func (r *Registry) Register(op Operation) error {
	if op.Name == "" || op.Invoke == nil || !(op.System || op.Type || op.Instance) {
		return fmt.Errorf("operations: %q needs a name, a level and Invoke", op.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.ops[op.Name]; dup {
		return fmt.Errorf("operations: $%s registered twice", op.Name)
	}
	r.ops[op.Name] = op
	return nil
}

// Lookup returns the operation of that name.
func (r *Registry) Lookup(name string) (Operation, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	op, ok := r.ops[name]
	return op, ok
}

// All returns the registered operations sorted by name.
func (r *Registry) All() []Operation {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Operation, 0, len(r.ops))
	for _, op := range r.ops {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Applies reports whether op may be invoked on resource type typ.
func (op Operation) Applies(typ string) bool {
	if len(op.Types) == 0 {
		return true
	}
	for _, t := range op.Types {
		if t == typ {
			return true
		}
	}
	return false
}
