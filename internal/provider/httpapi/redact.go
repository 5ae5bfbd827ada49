package httpapi

import (
	"bytes"
	"slices"
	"strings"
)

// gramLen is the shortest piece of a credential that is redacted wherever it
// appears: 8 characters of a random key are 40 bits or more, too much to
// leave for a guesser, while shorter runs collide with ordinary words.
const gramLen = 8

// redactor keeps a client's credentials out of everything it writes: any run
// of gramLen or more consecutive characters of one of them is replaced, however
// the text spells it — whole or cut short, in either case, split by spaces, line breaks,
// quotes, commas or plus signs, percent-encoded, or written with JSON or Go
// escapes (\u0041, \x41, \n).
type redactor struct {
	grams map[uint64]struct{} // every gramLen-character window of the normalised credentials
	whole [][]byte            // normalised credentials shorter than gramLen, matched whole
}

func newRedactor(credentials ...string) *redactor {
	r := &redactor{grams: map[uint64]struct{}{}}
	for _, c := range credentials {
		norm, _, _ := normalize(strings.TrimSpace(c))
		switch {
		case len(norm) == 0:
		case len(norm) < gramLen:
			r.whole = append(r.whole, norm)
		default:
			for i := 0; i+gramLen <= len(norm); i++ {
				r.grams[pack(norm[i:i+gramLen])] = struct{}{}
			}
		}
	}
	return r
}

func pack(b []byte) uint64 {
	var h uint64
	for i := len(b) - 1; i >= 0; i-- {
		h = h<<8 | uint64(b[i])
	}
	return h
}

// redact replaces each stretch of s that spells a piece of a credential with
// [redacted]; text without one is returned as it is.
func (r *redactor) redact(s string) string {
	if r == nil || s == "" || (len(r.grams) == 0 && len(r.whole) == 0) {
		return s
	}
	norm, from, to := normalize(s)
	var spans [][2]int
	if len(r.grams) > 0 {
		var h uint64
		for k := range norm {
			h = h>>8 | uint64(norm[k])<<56
			if k < gramLen-1 {
				continue
			}
			if _, ok := r.grams[h]; ok {
				spans = append(spans, [2]int{from[k-gramLen+1], to[k]})
			}
		}
	}
	for _, w := range r.whole {
		for off := 0; ; {
			i := bytes.Index(norm[off:], w)
			if i < 0 {
				break
			}
			at := off + i
			spans = append(spans, [2]int{from[at], to[at+len(w)-1]})
			off = at + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var out strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		out.WriteString(s[last:start])
		out.WriteString(redacted)
		last = end
	}
	out.WriteString(s[last:])
	return out.String()
}

// normalize is s as a credential would be compared: separators dropped,
// escapes decoded, ASCII letters lower-cased. norm[k] was read from s[from[k]:to[k]].
func normalize(s string) (norm []byte, from, to []int) {
	norm = make([]byte, 0, len(s))
	from = make([]int, 0, len(s))
	to = make([]int, 0, len(s))
	for i := 0; i < len(s); {
		c, n := s[i], 1
		switch {
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			c, n = unhex(s[i+1])<<4|unhex(s[i+2]), 3
		case c == '\\' && i+1 < len(s):
			switch e := s[i+1]; {
			case e == 'u' && i+5 < len(s) && s[i+2] == '0' && s[i+3] == '0' && isHexDigit(s[i+4]) && isHexDigit(s[i+5]):
				c, n = unhex(s[i+4])<<4|unhex(s[i+5]), 6
			case e == 'x' && i+3 < len(s) && isHexDigit(s[i+2]) && isHexDigit(s[i+3]):
				c, n = unhex(s[i+2])<<4|unhex(s[i+3]), 4
			case e == 'n' || e == 'r' || e == 't':
				c, n = ' ', 2 // an escaped line break or tab: a separator
			case e == '/' || e == '\\' || e == '"' || e == '\'':
				c, n = e, 2
			}
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A' // case does not hide a credential (an upstream that upper-cases what it quotes)
		}
		if !separator(c) {
			norm = append(norm, c)
			from = append(from, i)
			to = append(to, i+n)
		}
		i += n
	}
	return norm, from, to
}

// separator reports the characters a credential may be split by in a message.
func separator(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', '"', '\'', '`', ',', '+':
		return true
	}
	return false
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
