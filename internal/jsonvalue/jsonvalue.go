// Package jsonvalue holds JSON value types that accept more than one shape,
// for input keyward does not control: platforms that send an id as a string
// or a number, and models that write a bound either way.
package jsonvalue

import "encoding/json"

// StringOrNumber is a value sent as a JSON string or number ("1227" or
// 1227), kept as the string. A number keeps its exact digits.
type StringOrNumber string

// UnmarshalJSON implements json.Unmarshaler.
func (v *StringOrNumber) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = StringOrNumber(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*v = StringOrNumber(n.String())
	return nil
}
