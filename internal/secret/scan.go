package secret

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Kind says what a secret found in a text looks like.
type Kind string

const (
	// KindKeyward is a whole keyward key: kw_, 49 base62 characters and a
	// matching checksum.
	KindKeyward Kind = "keyward"
	// KindKeywardPart is kw_ and at least 8 base62 characters (with a digit or
	// a capital) that are not a whole valid key: a piece of one, or one with a
	// typo.
	KindKeywardPart Kind = "keyward_part"
	// KindVast is 64 lower-case hex digits: the shape of a Vast.ai key (and of
	// a SHA-256).
	KindVast Kind = "vast"
	// KindLyceum is lk_ and at least 12 more characters (Lyceum).
	KindLyceum Kind = "lyceum"
	// KindLurus is lc_ and at least 12 more characters (Lurus Code).
	KindLurus Kind = "lurus"
	// KindLium is sk_ and at least 12 more characters: Lium's keys, and the
	// secret keys of other platforms that share the prefix.
	KindLium Kind = "lium"
	// KindJWT is a JSON Web Token: eyJ… and two or more dot-separated
	// base64url parts (Lium's session tokens are JWTs).
	KindJWT Kind = "jwt"
	// KindBearer is the credential after "Bearer " or "Basic " when it has no
	// more specific shape.
	KindBearer Kind = "bearer"
	// KindToken is any other run of 32 or more characters that looks random
	// (hex, base62, base64) rather than made of words, paths or ids.
	KindToken Kind = "token"
)

// Found is one secret in a scanned text: text[Start:End] (byte offsets).
type Found struct {
	Start, End int
	Kind       Kind
}

// String never shows the secret, only where it is and what it looks like.
func (f Found) String() string {
	return fmt.Sprintf("%s secret at bytes %d–%d", f.Kind, f.Start, f.End)
}

// Scan finds the secrets in an arbitrary text so that a caller can mask them
// before echoing, logging or storing it:
//
//   - keyward keys (kw_…), whole or in pieces of 8 characters or more;
//   - Vast.ai keys (64 lower-case hex digits), Lyceum (lk_…), Lurus (lc_…)
//     and Lium (sk_…) keys;
//   - the credential after "Bearer " or "Basic ", and JSON Web Tokens;
//   - other runs of 32 or more characters that look random, such as hex,
//     base62 or base64 tokens.
//
// Ids are left alone: keyward's own (key_ and 12 base-36 characters), UUIDs,
// numbers, file paths, and names made of words such as production-worker-2024
// or CreateKeyRequest. Every occurrence of a secret found once is found, even
// where its surroundings alone would not give it away.
//
// The result is sorted and its spans do not overlap. Scan reads the text once
// (plus one search per distinct secret found), so it is fast on short
// arguments and linear on large ones.
func Scan(text string) []Found {
	sc := scanner{s: text}
	sc.scan()
	if len(sc.found) == 0 {
		return nil
	}
	sc.addRepeats()
	return merge(sc.found)
}

// Contains reports whether Scan would find a secret in text.
func Contains(text string) bool { return len(Scan(text)) > 0 }

// maxMaskRounds bounds MaskText's passes. One pass almost always suffices; a
// second is needed only when a mask joined two pieces of text into something
// secret-shaped.
const maxMaskRounds = 4

// MaskText replaces every secret Scan finds with its mask: kw_4f9a…x2Qe for
// prefixed keys (prefix and 4 characters, then the last 4), ab12…yz89 for
// others, less for short ones. Nothing recoverable remains: a mask never
// shows 8 consecutive characters of a secret. Text without secrets is
// returned as it is.
//
// MaskText is idempotent: its result holds nothing Scan would find.
func MaskText(text string) string {
	out := text
	for range maxMaskRounds {
		found := Scan(out)
		if len(found) == 0 {
			return out
		}
		out = replace(out, found)
	}
	if Contains(out) {
		// Unreachable in practice (FuzzScan looks for it); if it happens,
		// withholding is the only safe answer.
		return fmt.Sprintf("[%d bytes withheld: keyward could not mask the secrets in them]", len(text))
	}
	return out
}

// Bound caps s at n runes (n < 0 counts as 0). A longer string keeps its first
// n runes and ends with a marker giving its full size, e.g.
// "…(1048576 bytes, truncated)"; the marker adds at most 32 bytes. Bound reads
// at most n runes of s, so it is cheap on huge strings.
//
// Mask before bounding (or use Clean): a secret cut in half may no longer be
// recognised.
func Bound(s string, n int) string { return bound(s, n, len(s), false) }

// bound keeps n runes of s and marks the cut of a value of size bytes; cut
// says s is already a part of that value.
func bound(s string, n, size int, cut bool) string {
	n = max(n, 0)
	if !cut && len(s) <= n {
		return s // n bytes are at most n runes
	}
	runes := 0
	for i := range s {
		if runes == n {
			return s[:i] + truncated(size)
		}
		runes++
	}
	if cut {
		return s + truncated(size)
	}
	return s
}

func truncated(size int) string { return fmt.Sprintf("…(%d bytes, truncated)", size) }

// Clean is what may be echoed, logged or stored of an arbitrary value: its
// secrets masked, then bounded to n runes (the marker gives the size of the
// value itself). A value longer than 16n bytes (1 KiB at least) is first cut
// there, at the end of a word so that no secret is cut in half and left
// unrecognisable. This keeps cleaning a huge value cheap; what lies beyond
// the cut is never shown, and the marker says the value was longer.
func Clean(s string, n int) string {
	n = max(n, 0)
	limit := max(16*n, 1<<10)
	if len(s) <= limit {
		return bound(MaskText(s), n, len(s), false)
	}
	cut := limit
	for back := limit; back > 0 && limit-back < 4<<10; back-- {
		if utf8.RuneStart(s[back]) && !is(s[back-1], b64token) && s[back-1] != '=' {
			cut = back
			break
		}
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return bound(MaskText(s[:cut]), n, len(s), true)
}

// replace swaps each found span for its mask.
func replace(s string, found []Found) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, f := range found {
		b.WriteString(s[last:f.Start])
		b.WriteString(maskFound(s[f.Start:f.End], f.Kind))
		last = f.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// maskFound masks one secret: keyed forms keep their prefix and 4 characters
// (Mask); anything else shows at most 4 characters at each end, and at most a
// quarter of it at each end when it is short.
func maskFound(v string, kind Kind) string {
	switch kind {
	case KindKeyward, KindKeywardPart, KindLyceum, KindLurus, KindLium:
		if len(v) > 3 && v[2] == '_' {
			return Mask(v)
		}
	}
	n := min(4, len(v)/4)
	return MaskParts(v[:n], v[len(v)-n:])
}

// merge sorts spans and joins the overlapping ones.
func merge(found []Found) []Found {
	slices.SortFunc(found, func(a, b Found) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	out := found[:1]
	for _, f := range found[1:] {
		last := &out[len(out)-1]
		if f.Start < last.End {
			if f.End > last.End {
				last.End = f.End
				if !keyed(last.Kind) {
					last.Kind = f.Kind
				}
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

func keyed(k Kind) bool {
	switch k {
	case KindKeyward, KindKeywardPart, KindLyceum, KindLurus, KindLium:
		return true
	}
	return false
}

// Byte classes.
const (
	cLower = 1 << iota
	cUpper
	cDigit
	cURL    // - and _: base64url, and separators in ids
	cStd    // + and /: standard base64, and separators in paths
	cBearer // . and ~: also allowed in an HTTP credential (RFC 6750 b64token)

	alnum    = cLower | cUpper | cDigit
	letter   = cLower | cUpper
	urlChars = alnum | cURL       // base64url, and the body of prefixed keys
	runChars = urlChars | cStd    // a generic token ('=' padding aside)
	b64token = runChars | cBearer // an HTTP credential
)

// Thresholds.
const (
	minToken = 32   // a generic token is at least this long
	minAuth  = 8    // a credential after Bearer or Basic
	minBody  = 8    // kw_ and at least this many base62 characters
	minOther = 12   // lk_, lc_, sk_ and at least this many characters
	minJWT   = 16   // a whole JWT
	maxParts = 5    // of a JWT (a JWE has 5)
	pairLow  = 0.55 // below this share of common letter pairs, a run looks random
	minPairs = 8    // letter pairs needed to judge a run by them
)

var class = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cLower
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = cUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['-'], t['_'] = cURL, cURL
	t['+'], t['/'] = cStd, cStd
	t['.'], t['~'] = cBearer, cBearer
	return t
}()

func is(c byte, set uint8) bool { return class[c]&set != 0 }

type scanner struct {
	s     string
	found []Found
}

func (sc *scanner) add(start, end int, kind Kind) {
	sc.found = append(sc.found, Found{Start: start, End: end, Kind: kind})
}

func (sc *scanner) scan() {
	s := sc.s
	for i := 0; i < len(s); {
		if !is(s[i], runChars) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && is(s[j], runChars) {
			j++
		}
		if end, ok := sc.auth(i, j); ok {
			i = end
			continue
		}
		if end, ok := sc.jwt(i); ok {
			sc.add(i, end, KindJWT)
			i = end
			continue
		}
		pad := j
		for pad < len(s) && s[pad] == '=' {
			pad++
		}
		sc.run(i, j, pad)
		i = pad
	}
}

// auth finds the credential after an HTTP authentication scheme: the run
// s[i:j] is "Bearer" or "Basic", then blanks, then the credential.
func (sc *scanner) auth(i, j int) (int, bool) {
	s := sc.s
	w := s[i:j]
	if !strings.EqualFold(w, "bearer") && !strings.EqualFold(w, "basic") {
		return 0, false
	}
	t := j
	for t < len(s) && (s[t] == ' ' || s[t] == '\t') {
		t++
	}
	if t == j {
		return 0, false
	}
	end := t
	for end < len(s) && is(s[end], b64token) {
		end++
	}
	for end < len(s) && s[end] == '=' {
		end++
	}
	cred := s[t:end]
	if len(cred) < minAuth || !credentialShaped(cred) {
		return 0, false
	}
	kind := KindBearer
	if k, ok := prefixKind(cred); ok {
		kind = k
	} else if strings.HasPrefix(cred, "eyJ") && strings.Count(cred, ".") >= 2 {
		kind = KindJWT
	}
	sc.add(t, end, kind)
	return end, true
}

// credentialShaped tells a credential from a word after "Bearer" in prose
// ("Bearer authentication"): it has a digit, a symbol, or a capital after its
// first character.
func credentialShaped(c string) bool {
	for i := 0; i < len(c); i++ {
		if !is(c[i], letter) || (i > 0 && is(c[i], cUpper)) {
			return true
		}
	}
	return false
}

// jwt reads a JSON Web Token starting at i: "eyJ" (the base64url of '{"'),
// then at least two more dot-separated base64url parts, of which only the
// third (the signature of an unsigned token) may be empty.
func (sc *scanner) jwt(i int) (int, bool) {
	s := sc.s
	if !strings.HasPrefix(s[i:], "eyJ") {
		return 0, false
	}
	p := sc.span(i, urlChars)
	parts := 1
	for parts < maxParts && p < len(s) && s[p] == '.' {
		q := sc.span(p+1, urlChars)
		if q == p+1 && parts != 2 {
			break
		}
		p = q
		parts++
	}
	if parts < 3 || p-i < minJWT {
		return 0, false
	}
	return p, true
}

// span is the end of the run of characters of the set starting at i.
func (sc *scanner) span(i int, set uint8) int {
	for i < len(sc.s) && is(sc.s[i], set) {
		i++
	}
	return i
}

// prefixKind tells the platform of a key from its prefix.
func prefixKind(v string) (Kind, bool) {
	if len(v) < 4 || v[2] != '_' {
		return "", false
	}
	switch v[:3] {
	case Prefix:
		if CheckFormat(v) == nil {
			return KindKeyward, true
		}
		return KindKeywardPart, true
	case "lk_":
		return KindLyceum, true
	case "lc_":
		return KindLurus, true
	case "sk_":
		return KindLium, true
	}
	return "", false
}

// run looks for secrets in s[i:j], a maximal run of token characters, with
// '=' padding up to pad: prefixed keys anywhere in it, then generic tokens in
// what is left.
func (sc *scanner) run(i, j, pad int) {
	s := sc.s
	from := i
	for q := i + 2; q < j; q++ {
		if s[q] != '_' || q-2 < from {
			continue
		}
		start := q - 2
		end, kind := sc.prefixed(start, j)
		if kind == "" {
			// A later prefix inside this body would have a body that is a
			// part of this one, so it would fail too: skip past it.
			q = max(q, end-1)
			continue
		}
		sc.generic(from, start, start)
		sc.add(start, end, kind)
		from = end
		q = end + 1 // the next prefix starts at end at the earliest
	}
	sc.generic(from, j, pad)
}

// prefixed reads a prefixed key starting at start (s[start+2] is '_') and
// ending before limit. kind is "" when there is none there; end is then where
// the characters that could have been its body end.
func (sc *scanner) prefixed(start, limit int) (end int, kind Kind) {
	s := sc.s
	body := start + 3
	switch s[start:body] {
	case Prefix:
		// keyward's prefix is its own: no word boundary is needed before it.
		e, strong := sc.body(body, limit, alnum)
		if e-body < minBody || !strong {
			return e, ""
		}
		if e-start == KeyLen && CheckFormat(s[start:e]) == nil {
			return e, KindKeyward
		}
		return e, KindKeywardPart
	case "lk_", "lc_", "sk_":
		if start > 0 && is(s[start-1], alnum) {
			return body, "" // task_…, bulk_…: the end of a word
		}
		e, strong := sc.body(body, limit, urlChars)
		if e-body < minOther || !strong {
			return e, ""
		}
		k, _ := prefixKind(s[start:e])
		return e, k
	}
	return body, ""
}

// body reads the characters of set from i up to limit; strong says one of
// them is a digit or a capital, as in any random body.
func (sc *scanner) body(i, limit int, set uint8) (end int, strong bool) {
	for i < limit && is(sc.s[i], set) {
		strong = strong || is(sc.s[i], cUpper|cDigit)
		i++
	}
	return i, strong
}

// generic judges s[a:b] (with '=' padding up to pad) as a whole, then, if it
// is not a secret but is made of parts, each part on its own.
func (sc *scanner) generic(a, b, pad int) {
	if b-a < minToken {
		return
	}
	s := sc.s[a:b]
	var lower, upper, digits, seps, slashes int
	for i := 0; i < len(s); i++ {
		switch class[s[i]] {
		case cLower:
			lower++
		case cUpper:
			upper++
		case cDigit:
			digits++
		default:
			seps++
			if s[i] == '/' {
				slashes++
			}
		}
	}
	switch {
	case s[0] == '/' || slashes >= 3:
		// A path: each part is judged alone. But standard Base64 has '/' in
		// its alphabet (an AWS secret key, a random token: one in 25 of 40
		// characters starts with one or has three): letters of both cases
		// with digits, random as a whole, every longer part of both cases,
		// are that, not a path. (A path's random parts, such as macOS's
		// /var/folders/kl/9jx6jnm57kz4cf2hgkzd8ww40000gn/T, are of one case.)
		if lower > 0 && upper > 0 && digits > 0 && mixedParts(s) && random(s, seps, digits, lower+upper) {
			sc.add(a, pad, KindToken)
			return
		}
		sc.parts(a, b, pad, "/")
		return
	case seps > 0 && (lower == 0 || upper == 0):
		// One case and separators: an id or a name such as key_0a1b…,
		// 3f2b8c1e-0a9d-…, KEYWARD_MAX_TTL or worker-eu-west-1.
		sc.parts(a, b, pad, "-_+/")
		return
	}
	if digits > 0 && lower+upper > 0 && random(s, seps, digits, lower+upper) {
		kind := KindToken
		if len(s) == 64 && upper == 0 && seps == 0 {
			kind = KindVast // random() found it hex
		}
		sc.add(a, pad, kind)
		return
	}
	if seps > 0 {
		sc.parts(a, b, pad, "-_+/")
	}
}

// mixedParts: every part of s between slashes that is 8 characters or more
// has letters of both cases, as random Base64 has (one of one case at that
// length is a chance of about one in a hundred).
func mixedParts(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		if len(part) < 8 {
			continue
		}
		if !strings.ContainsFunc(part, func(r rune) bool { return 'a' <= r && r <= 'z' }) ||
			!strings.ContainsFunc(part, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
			return false
		}
	}
	return true
}

// parts judges each piece of s[a:b] between the separators on its own.
func (sc *scanner) parts(a, b, pad int, separators string) {
	start := a
	for i := a; i <= b; i++ {
		if i < b && strings.IndexByte(separators, sc.s[i]) < 0 {
			continue
		}
		end := i
		if i == b {
			end = pad
		}
		sc.generic(start, i, end)
		start = i + 1
	}
}

// random tells a token from words: hex is random; otherwise most adjacent
// letter pairs of random text are rare in English (74% of all pairs are
// outside the 178 that make up 90% of English), while names, even
// abbreviated or in CamelCase, are mostly common pairs. Runs with too few
// letter pairs to judge are random when digits and letters are many and
// interleaved.
func random(s string, seps, digits, letters int) bool {
	if seps == 0 && isHex(s) {
		return true
	}
	pairs, common := 0, 0
	for i := 1; i < len(s); i++ {
		a, b := lowerByte(s[i-1]), lowerByte(s[i])
		if a == 0 || b == 0 {
			continue
		}
		pairs++
		if commonPair[a-'a']&(1<<(b-'a')) != 0 {
			common++
		}
	}
	if pairs >= minPairs {
		return float64(common) < pairLow*float64(pairs)
	}
	switches := 0
	for i := 1; i < len(s); i++ {
		if class[s[i]] != class[s[i-1]] {
			switches++
		}
	}
	n := len(s)
	return 4*digits >= n && 4*letters >= n && 3*switches >= n
}

func lowerByte(c byte) byte {
	switch class[c] {
	case cLower:
		return c
	case cUpper:
		return c + ('a' - 'A')
	}
	return 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !is(c, cDigit) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// commonPairs are the letter pairs that make up 90% of the pairs in English
// prose (measured on the Go standard library's comments, about a million
// words): a row per first letter, a bit per second letter.
const commonPairs = "ab ac ad ag ai al am an ap ar as at au av ay ba be bi bl bu by ca ce ch ci ck cl co cr ct " +
	"dd de di do ds ea ec ed ee ef el em en ep er es et ev ex ff fi fo fr fu ge gh gi go ha he hi ho ht " +
	"ia ib ic id ie if ig il im in io ip ir is it iv ke la ld le li ll lo ls lu ly ma me mi mm mo mp mu " +
	"na nc nd ne ng ni nn no ns nt oc od of oi ol om on op or os ot ou ov ow pa pe pl po pr pt qu ra rc " +
	"re ri rm rn ro rr rs rt ru rv ry sa sc se sh si so sp ss st su sy ta te th ti to tr ts tt tu ty ue " +
	"ui ul um un ur us ut va ve wa we wh wi yp ys ze"

var commonPair = func() (t [26]uint32) {
	for _, p := range strings.Fields(commonPairs) {
		t[p[0]-'a'] |= 1 << (p[1] - 'a')
	}
	return t
}()

// addRepeats finds every other occurrence of each secret found, so that a
// secret recognised once is masked everywhere.
func (sc *scanner) addRepeats() {
	kinds := make(map[string]Kind, len(sc.found))
	var distinct []string
	for _, f := range sc.found {
		v := sc.s[f.Start:f.End]
		if _, ok := kinds[v]; !ok {
			kinds[v] = f.Kind
			distinct = append(distinct, v)
		}
	}
	s := sc.s
	if len(distinct) <= 16 {
		for _, v := range distinct {
			for off := 0; ; {
				i := strings.Index(s[off:], v)
				if i < 0 {
					break
				}
				sc.add(off+i, off+i+len(v), kinds[v])
				off += i + 1
			}
		}
		return
	}
	// Many secrets: one pass over the text, keyed by each secret's first 8
	// bytes (every secret found is at least 8 bytes long).
	byHead := make(map[uint64][]string, len(distinct))
	for _, v := range distinct {
		h := head8(v)
		byHead[h] = append(byHead[h], v)
	}
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h>>8 | uint64(s[i])<<56
		if i < 7 {
			continue
		}
		at := i - 7
		for _, v := range byHead[h] {
			if strings.HasPrefix(s[at:], v) {
				sc.add(at, at+len(v), kinds[v])
			}
		}
	}
}

func head8(v string) uint64 {
	var h uint64
	for i := 7; i >= 0; i-- {
		h = h<<8 | uint64(v[i])
	}
	return h
}
