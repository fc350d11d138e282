package jsontree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrorKind says what is wrong with input that a Decoder rejects.
type ErrorKind int

const (
	// Invalid input is not JSON; ParseError.Err says why.
	Invalid ErrorKind = iota
	// Truncated input ends before the value does (or holds no value).
	Truncated
	// Trailing input has more than white space after the value.
	// ParseError.Err is the syntax error when what follows is not JSON
	// either, and nil otherwise.
	Trailing
	// Duplicate input has an object with two members named ParseError.Key.
	Duplicate
	// TooDeep input nests arrays and objects deeper than ParseError.MaxDepth.
	TooDeep
)

// ParseError describes why a Decoder rejected its input. Its message is
// short and plain; callers that word their errors differently can use Kind.
type ParseError struct {
	Kind     ErrorKind
	Key      string // the repeated member name, for Duplicate
	MaxDepth int    // the limit exceeded, for TooDeep
	Err      error  // the underlying error, for Invalid, Truncated and Trailing
}

// Error returns a message such as `duplicate object member "a"`.
func (e *ParseError) Error() string {
	switch e.Kind {
	case Duplicate:
		return fmt.Sprintf("duplicate object member %q", e.Key)
	case TooDeep:
		return fmt.Sprintf("nesting deeper than %d levels", e.MaxDepth)
	case Trailing:
		if e.Err == nil {
			return "unexpected data after top-level value"
		}
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error, if any.
func (e *ParseError) Unwrap() error { return e.Err }

func invalid(err error) *ParseError { return &ParseError{Kind: Invalid, Err: err} }

// maxDuplicateScan is the object size above which the parser switches from a
// linear scan to a map when checking for duplicate member names.
const maxDuplicateScan = 16

// Parse parses data as exactly one JSON value, with numbers as json.Number.
// It rejects duplicate member names and arrays and objects nested more than
// maxDepth levels deep. Errors are *ParseError values.
func Parse(data []byte, maxDepth int) (any, error) {
	d := NewDecoder(data, maxDepth)
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	v, err := d.Value(tok, 0)
	if err != nil {
		return nil, err
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return v, nil
}

// A Decoder parses a JSON text a token or a value at a time, so that a caller
// can walk the outer levels itself (to stop early at a size limit, say) and
// have the Decoder build the values inside. Errors are *ParseError values.
type Decoder struct {
	dec      *json.Decoder
	maxDepth int
}

// NewDecoder returns a Decoder that reads data and accepts values nested at
// most maxDepth levels deep.
func NewDecoder(data []byte, maxDepth int) *Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &Decoder{dec: dec, maxDepth: maxDepth}
}

// Token reads the next token, as json.Decoder.Token does; the end of the
// input is an error of kind Truncated.
func (d *Decoder) Token() (json.Token, error) {
	tok, err := d.dec.Token()
	switch {
	case err == io.EOF:
		return nil, &ParseError{Kind: Truncated, Err: io.ErrUnexpectedEOF}
	case err != nil:
		return nil, invalid(err)
	}
	return tok, nil
}

// More reports whether the current array or object has another element.
func (d *Decoder) More() bool { return d.dec.More() }

// ReadDelim reads the delimiter that must come next, such as the ']' that
// ends an array whose elements the caller has read.
func (d *Decoder) ReadDelim(want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != want {
		return invalid(fmt.Errorf("expected %q", rune(want)))
	}
	return nil
}

// End checks that nothing but white space follows the top-level value.
func (d *Decoder) End() error {
	_, err := d.dec.Token()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return &ParseError{Kind: Trailing}
	}
	return &ParseError{Kind: Trailing, Err: err}
}

// Value converts tok, and for '[' or '{' the tokens up to the matching
// delimiter, into a value. depth is the number of containers that enclose
// the value.
func (d *Decoder) Value(tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case nil, bool, string, json.Number:
		return t, nil
	case json.Delim:
		if t != '[' && t != '{' {
			return nil, invalid(fmt.Errorf("unexpected %q", rune(t)))
		}
		if depth+1 > d.maxDepth {
			return nil, &ParseError{Kind: TooDeep, MaxDepth: d.maxDepth}
		}
		if t == '[' {
			return d.array(depth + 1)
		}
		return d.object(depth + 1)
	}
	return nil, invalid(fmt.Errorf("unexpected token %v", tok))
}

func (d *Decoder) array(depth int) (*Array, error) {
	a := &Array{}
	for d.dec.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		v, err := d.Value(tok, depth)
		if err != nil {
			return nil, err
		}
		a.Elems = append(a.Elems, v)
	}
	return a, d.ReadDelim(']')
}

func (d *Decoder) object(depth int) (*Object, error) {
	o := &Object{}
	var seen map[string]bool
	for d.dec.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalid(errors.New("object member name is not a string"))
		}
		if seen != nil {
			if seen[key] {
				return nil, &ParseError{Kind: Duplicate, Key: key}
			}
			seen[key] = true
		} else {
			if o.Index(key) >= 0 {
				return nil, &ParseError{Kind: Duplicate, Key: key}
			}
			if len(o.Members) >= maxDuplicateScan {
				seen = make(map[string]bool, 2*len(o.Members))
				for _, m := range o.Members {
					seen[m.Key] = true
				}
				seen[key] = true
			}
		}
		tok, err = d.Token()
		if err != nil {
			return nil, err
		}
		v, err := d.Value(tok, depth)
		if err != nil {
			return nil, err
		}
		o.Members = append(o.Members, Member{Key: key, Val: v})
	}
	return o, d.ReadDelim('}')
}
