package secret

import "regexp"

// Interim recogniser (replaced by the full scanner): keyward keys with a valid checksum.
var kwToken = regexp.MustCompile(`kw_[0-9A-Za-z]{49}`)

// Contains reports whether s holds something that looks like a secret.
func Contains(s string) bool {
	for _, m := range kwToken.FindAllString(s, -1) {
		if CheckFormat(m) == nil {
			return true
		}
	}
	return false
}

// MaskAll replaces every secret in s with its mask.
func MaskAll(s string) string {
	return kwToken.ReplaceAllStringFunc(s, func(m string) string {
		if CheckFormat(m) == nil {
			return Mask(m)
		}
		return m
	})
}
