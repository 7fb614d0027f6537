package ldapsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// The skip hash is what a run stores in Owner.Hash for a user it applied
// an entry to: the entry's digest (Entry.Hash) and a fingerprint of the
// mapping that turned the entry into user fields (Config.Attributes and
// Config.GroupMappings), written "<64 hex digits>.<16 hex digits>". A run
// skips an entry only when both halves match, so a changed mapping reaches
// every user on the next full run even when no entry changed, and the run
// can tell "the mapping changed" (the entry half matches, the mapping half
// does not) from "the entry changed". Hashes written before the mapping
// half existed (64 hex digits) count as written with another mapping.

// mappingPrint is the fingerprint half of the skip hash.
type mappingPrint [8]byte

// mappingVersion changes when what mappingFingerprint covers changes.
const mappingVersion = 1

// mappingFingerprint digests everything in cfg that decides which user
// fields an entry sets and to what: the attribute mapping and the group
// mappings. Filters, server and schedule are left out: they change which
// entries are read or what their values are, which the entry half sees.
func mappingFingerprint(cfg *Config) mappingPrint {
	b, err := json.Marshal(struct {
		Version       int
		Attributes    AttributeMap
		GroupMappings []GroupMapping
	}{mappingVersion, cfg.Attributes, cfg.GroupMappings})
	if err != nil { // plain strings and slices: cannot happen
		panic("ldapsync: encode mapping fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	var p mappingPrint
	copy(p[:], sum[:])
	return p
}

// skipHashLen is the length of a skip hash.
const skipHashLen = 2*sha256.Size + 1 + 2*len(mappingPrint{})

// skipHash writes the skip hash of an entry digest under a mapping.
func skipHash(sum *[sha256.Size]byte, mp mappingPrint) string {
	var b [skipHashLen]byte
	hex.Encode(b[:2*sha256.Size], sum[:])
	b[2*sha256.Size] = '.'
	hex.Encode(b[2*sha256.Size+1:], mp[:])
	return string(b[:])
}

// parseSkipHash reads a stored Owner.Hash: ok is false when it is no skip
// hash (hashPending, hashMissing, another source's), mapped is false for a
// hash of an older version that has no mapping half.
func parseSkipHash(h string) (sum [sha256.Size]byte, mp mappingPrint, ok, mapped bool) {
	switch len(h) {
	case 2 * sha256.Size:
		_, err := hex.Decode(sum[:], []byte(h))
		return sum, mp, err == nil, false
	case skipHashLen:
		if h[2*sha256.Size] != '.' {
			return sum, mp, false, false
		}
		if _, err := hex.Decode(sum[:], []byte(h[:2*sha256.Size])); err != nil {
			return sum, mp, false, false
		}
		if _, err := hex.Decode(mp[:], []byte(h[2*sha256.Size+1:])); err != nil {
			return sum, mp, false, false
		}
		return sum, mp, true, true
	}
	return sum, mp, false, false
}
