package render

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// javaDouble formats f exactly as java.lang.Double.toString does (the
// specification of JDK 19 and later, which Cosmos's templates see for any
// number that is not an int):
//
//   - NaN, Infinity, -Infinity, 0.0, -0.0 for the special values;
//   - the decimal chosen is the shortest that rounds to f; when that has a
//     single digit, the two-digit decimal closest to f that rounds to f is
//     used instead (so Double.MIN_VALUE prints 4.9E-324, not 5E-324); ties
//     go to the even digit;
//   - for 10^-3 <= |f| < 10^7 the plain form with at least one fraction
//     digit (100.0, 0.001, 1234567.5);
//   - otherwise computerized scientific notation with at least one fraction
//     digit and no "+" in the exponent (1.0E7, 1.0E-4, 1.2345678E8).
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	neg := f < 0
	a := math.Abs(f)
	digits, exp := shortestDecimal(a)
	if len(digits) == 1 {
		digits, exp = twoDigitDecimal(a, digits, exp)
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		digits = "0"
	}
	var b strings.Builder
	b.Grow(len(digits) + 8)
	if neg {
		b.WriteByte('-')
	}
	if exp >= -3 && exp < 7 {
		if exp >= 0 {
			if len(digits) > exp+1 {
				b.WriteString(digits[:exp+1])
				b.WriteByte('.')
				b.WriteString(digits[exp+1:])
			} else {
				b.WriteString(digits)
				b.WriteString(strings.Repeat("0", exp+1-len(digits)))
				b.WriteString(".0")
			}
		} else {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	b.WriteByte('.')
	if len(digits) > 1 {
		b.WriteString(digits[1:])
	} else {
		b.WriteByte('0')
	}
	b.WriteByte('E')
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

// shortestDecimal returns the shortest decimal digits that round to a
// (positive, finite) and the exponent E of the first digit: a ~ d.ddd x 10^E.
func shortestDecimal(a float64) (string, int) {
	s := strconv.FormatFloat(a, 'e', -1, 64) // d.ddde±XX
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	return strings.Replace(mant, ".", "", 1), exp
}

// twoDigitDecimal implements Double.toString's rule for a one-digit
// shortest decimal d x 10^exp: among the two-digit decimals that round to
// a, take the closest to a (ties: even last digit).
func twoDigitDecimal(a float64, d string, exp int) (string, int) {
	type cand struct{ m, e int } // m in [10, 99], value m x 10^e
	next := func(c cand) cand {
		if c.m == 99 {
			return cand{10, c.e + 1}
		}
		return cand{c.m + 1, c.e}
	}
	prev := func(c cand) cand {
		if c.m == 10 {
			return cand{99, c.e - 1}
		}
		return cand{c.m - 1, c.e}
	}
	s := strconv.FormatFloat(a, 'e', 1, 64) // a.be±XX, the closest two-digit decimal
	mant, expText, _ := strings.Cut(s, "e")
	e2, _ := strconv.Atoi(expText)
	closest := cand{int(mant[0]-'0')*10 + int(mant[2]-'0'), e2 - 1}
	d0 := cand{int(d[0]-'0') * 10, exp - 1}
	exact := new(big.Rat).SetFloat64(a)
	var best *cand
	var bestDist *big.Rat
	for _, c := range []cand{prev(closest), closest, next(closest), d0} {
		text := strconv.Itoa(c.m) + "e" + strconv.Itoa(c.e)
		back, err := strconv.ParseFloat(text, 64)
		if err != nil || back != a {
			continue
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			continue
		}
		dist := new(big.Rat).Sub(r, exact)
		dist.Abs(dist)
		if best == nil || dist.Cmp(bestDist) < 0 || (dist.Cmp(bestDist) == 0 && c.m%2 == 0 && best.m%2 != 0) {
			cc := c
			best, bestDist = &cc, dist
		}
	}
	if best == nil {
		return d, exp
	}
	return strconv.Itoa(best.m), best.e + 1
}
