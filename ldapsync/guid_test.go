package ldapsync

import (
	"bytes"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestFormatGUID(t *testing.T) {
	b := []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	// The first three groups are little-endian (as .NET's new Guid(byte[])
	// and Get-ADUser print them), the last two are in stored order.
	const want = "03020100-0504-0706-0809-0a0b0c0d0e0f"
	got, err := FormatGUID(b)
	if err != nil || got != want {
		t.Fatalf("FormatGUID = %q, %v; want %q", got, err, want)
	}
	for _, s := range []string{want, "{03020100-0504-0706-0809-0A0B0C0D0E0F}"} {
		back, err := ParseGUID(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Errorf("ParseGUID(%q) = % x, %v; want % x", s, back, err, b)
		}
	}
	// ParseGUID's bytes, escaped with ldap.EscapeFilter, make an
	// (objectGUID=...) filter that carries exactly those bytes.
	pkt, err := ldap.CompileFilter("(objectGUID=" + ldap.EscapeFilter(string(b)) + ")")
	if err != nil {
		t.Fatal(err)
	}
	if got := pkt.Children[1].Data.Bytes(); !bytes.Equal(got, b) {
		t.Errorf("filter value = % x, want % x", got, b)
	}
}

func TestFormatGUIDRoundTrip(t *testing.T) {
	b := []byte{0xd5, 0x4e, 0x3a, 0x91, 0x7c, 0x12, 0x4b, 0x4f, 0x9a, 0x3c, 0xff, 0x00, 0x10, 0x20, 0x30, 0x40}
	s, err := FormatGUID(b)
	if err != nil {
		t.Fatal(err)
	}
	if s != "913a4ed5-127c-4f4b-9a3c-ff0010203040" {
		t.Errorf("FormatGUID = %q", s)
	}
	back, err := ParseGUID(s)
	if err != nil || !bytes.Equal(back, b) {
		t.Errorf("ParseGUID(FormatGUID(b)) = % x, %v", back, err)
	}
}

func TestGUIDErrors(t *testing.T) {
	if _, err := FormatGUID(make([]byte, 15)); err == nil || err.Error() != "format GUID: want 16 bytes, got 15" {
		t.Errorf("FormatGUID(15 bytes) error = %v", err)
	}
	for _, s := range []string{"", "03020100050407060809-0a0b0c0d0e0f", "0302010g-0504-0706-0809-0a0b0c0d0e0f"} {
		if _, err := ParseGUID(s); err == nil {
			t.Errorf("ParseGUID(%q) succeeded", s)
		}
	}
}
