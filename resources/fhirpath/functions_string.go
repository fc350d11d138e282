package fhirpath

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// stringInput returns the single string input of a string function; ok is
// false for empty input.
func stringInput(c *callExpr, f []Value) (string, bool, error) {
	v, err := c.single(f)
	if err != nil || v == nil {
		return "", false, err
	}
	s, ok := v.(String)
	if !ok {
		return "", false, &Error{Kind: SemanticError, Pos: c.p, Msg: c.name + "() requires a string input, got " + typeName(v)}
	}
	return string(s), true, nil
}

// strFunc adapts a function of the input string and one string argument.
// strMap builds a function of the input string alone.
func strMap(fn func(s string) Value) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		return []Value{fn(s)}, nil
	}
}

func strFunc(fn func(s, arg string) Value) func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
	return func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		arg, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		r := fn(s, arg)
		if r == nil {
			return nil, nil
		}
		return []Value{r}, nil
	}
}

var regexCache sync.Map // pattern → *regexp.Regexp

func compileRegex(c *callExpr, pattern string) (*regexp.Regexp, error) {
	if re, ok := regexCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("(?s)" + pattern)
	if err != nil {
		return nil, errorf(c, "invalid regular expression: %v", err)
	}
	regexCache.Store(pattern, re)
	return re, nil
}

var stringFuncs = map[string]*funcDef{
	"indexOf": {min: 1, max: 1, fn: strFunc(func(s, sub string) Value {
		i := strings.Index(s, sub)
		if i < 0 {
			return Integer(-1)
		}
		return Integer(utf8.RuneCountInString(s[:i]))
	})},
	"substring": {min: 1, max: 2, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		start, ok, err := c.argInt(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		r := []rune(s)
		if start < 0 || start >= int64(len(r)) {
			return nil, nil
		}
		end := int64(len(r))
		if len(c.args) > 1 {
			n, ok, err := c.argInt(ec, 1)
			if err != nil {
				return nil, err
			}
			if ok {
				if n < 0 {
					n = 0
				}
				end = min(end, start+n)
			}
		}
		return []Value{String(string(r[start:end]))}, nil
	}},
	"startsWith": {min: 1, max: 1, fn: strFunc(func(s, p string) Value { return Boolean(strings.HasPrefix(s, p)) })},
	"endsWith":   {min: 1, max: 1, fn: strFunc(func(s, p string) Value { return Boolean(strings.HasSuffix(s, p)) })},
	"contains":   {min: 1, max: 1, fn: strFunc(func(s, p string) Value { return Boolean(strings.Contains(s, p)) })},
	"upper":      {fn: strMap(func(s string) Value { return String(strings.ToUpper(s)) })},
	"lower":      {fn: strMap(func(s string) Value { return String(strings.ToLower(s)) })},
	"trim":       {fn: strMap(func(s string) Value { return String(strings.TrimSpace(s)) })},
	"length":     {fn: strMap(func(s string) Value { return Integer(utf8.RuneCountInString(s)) })},
	"toChars": {fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		var out []Value
		for _, r := range s {
			out = append(out, String(string(r)))
		}
		return out, nil
	}},
	"replace": {min: 2, max: 2, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		pat, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		rep, ok, err := c.argString(ec, 1)
		if err != nil || !ok {
			return nil, err
		}
		if pat != "" && len(rep) > len(pat) && int64(strings.Count(s, pat))*int64(len(rep)-len(pat)) > maxStringLen {
			return nil, errorf(c, "result too long")
		}
		if pat == "" && int64(len(s)+1)*int64(len(rep)) > maxStringLen {
			return nil, errorf(c, "result too long")
		}
		return []Value{String(strings.ReplaceAll(s, pat, rep))}, nil
	}},
	"matches": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		pat, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		re, err := compileRegex(c, pat)
		if err != nil {
			return nil, err
		}
		return boolResult(re.MatchString(s)), nil
	}},
	"replaceMatches": {min: 2, max: 2, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		pat, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		rep, ok, err := c.argString(ec, 1)
		if err != nil || !ok {
			return nil, err
		}
		if pat == "" {
			return []Value{String(s)}, nil
		}
		re, err := compileRegex(c, pat)
		if err != nil {
			return nil, err
		}
		r := re.ReplaceAllString(s, rep)
		if len(r) > maxStringLen {
			return nil, errorf(c, "result too long")
		}
		return []Value{String(r)}, nil
	}},
	"split": {min: 1, max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		s, ok, err := stringInput(c, f)
		if err != nil || !ok {
			return nil, err
		}
		sep, ok, err := c.argString(ec, 0)
		if err != nil || !ok {
			return nil, err
		}
		var out []Value
		for _, p := range strings.Split(s, sep) {
			out = append(out, String(p))
		}
		return out, nil
	}},
	"join": {max: 1, fn: func(ec *evalCtx, c *callExpr, f []Value) ([]Value, error) {
		sep := ""
		if len(c.args) > 0 {
			s, _, err := c.argString(ec, 0)
			if err != nil {
				return nil, err
			}
			sep = s
		}
		parts := make([]string, 0, len(f))
		for _, v := range f {
			s, _ := system(v)
			str, ok := s.(String)
			if !ok {
				return nil, errorf(c, "input must contain strings")
			}
			parts = append(parts, string(str))
		}
		return []Value{String(strings.Join(parts, sep))}, nil
	}},
}
