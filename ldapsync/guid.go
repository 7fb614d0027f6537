package ldapsync

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// guidOrder maps the 16 bytes of a binary GUID (as AD stores objectGUID) to
// the order they are printed in: the first three groups are little-endian
// (Data1 uint32, Data2 and Data3 uint16), the last eight bytes are printed
// as stored.
var guidOrder = [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}

// FormatGUID returns the canonical string form of a 16-byte binary GUID as
// Windows shows it (Get-ADUser's ObjectGUID), lowercase:
// bytes 00 01 02 ... 0f read "03020100-0504-0706-0809-0a0b0c0d0e0f".
func FormatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("format GUID: want 16 bytes, got %d", len(b))
	}
	var ordered [16]byte
	for i, j := range guidOrder {
		ordered[i] = b[j]
	}
	h := hex.EncodeToString(ordered[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// ParseGUID is the inverse of FormatGUID: it returns the 16 bytes AD stores
// for a GUID string (with or without braces, any case). Use
// ldap.EscapeFilter(string(b)) to search for it: (objectGUID=\xx\xx...).
func ParseGUID(s string) ([]byte, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return nil, fmt.Errorf("parse GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	ordered, err := hex.DecodeString(t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36])
	if err != nil {
		return nil, fmt.Errorf("parse GUID %q: %w", s, err)
	}
	b := make([]byte, 16)
	for i, j := range guidOrder {
		b[j] = ordered[i]
	}
	return b, nil
}
