package fhirpath

import "testing"

func TestQuantityAndDateArithmetic(t *testing.T) {
	ctx := &Context{}
	for expr, want := range map[string]string{
		"1 'kg' = 1000 'g'":               "true",
		"500 'mg' < 1 'g'":                "true",
		"1 'L' = 1000 'mL'":               "true",
		"1 'h' = 60 'min'":                "true",
		"1 week = 7 days":                 "true",
		"1 'a' = 1 year":                  "",
		"2 'kg' + 500 'g'":                "2.5 'kg'",
		"1 'mg' + 1 's'":                  "error",
		"@2020-02-29 + 1 year":            "@2021-02-28",
		"@2020-01-31T10:00:00Z + 1 month": "@2020-02-29T10:00:00Z",
		"@2020-01-01 - 2 weeks":           "@2019-12-18",
		"@T23:30 + 45 minutes":            "@T00:15",
		"@2020-01-01T00:00:00+08:00 = @2019-12-31T16:00:00Z": "true",
		"@2020-01 < @2020-01-15":                             "",
		"@2020 = @2020-01":                                   "",
		"@2020-01-15 ~ @2020-01-15":                          "true",
		"'abc' ~ 'ABC '":                                     "true",
		"1.0 ~ 1.04":                                         "true",
		"(1 | 2 | 3).where($this > 1).count()":               "2",
		"('a' | 'b').select($this & $index.toString())":      "a0|b1",
	} {
		e, err := Compile(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		res, err := e.Evaluate(ctx)
		got := ""
		if err != nil {
			got = "error"
		} else {
			for i, v := range res {
				if i > 0 {
					got += "|"
				}
				_, s := outputOf(v)
				got += s
			}
		}
		if got != want {
			t.Errorf("%s = %q, want %q", expr, got, want)
		}
	}
}
