// Package strictjson checks a request body is one well-formed JSON value
// before anything decodes it: valid UTF-8, no data after the value, and no
// object with the same key twice. encoding/json alone replaces invalid
// UTF-8 with U+FFFD, lets the last of two duplicate keys win and, reading
// from a stream, ignores what follows the value; each of those lets a
// client store something other than what it appears to send.
//
// The smallest use:
//
//	if err := strictjson.Check(body); err != nil {
//		// 400 invalidSyntax, err says where and why
//	}
package strictjson
