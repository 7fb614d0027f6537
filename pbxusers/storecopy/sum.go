package storecopy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
)

// hasher keeps a count and a SHA-256 per kind over the canonical JSON of
// each object (encoding/json: struct fields in declaration order, map keys
// sorted, times in RFC 3339 with nanoseconds), one object per line.
type hasher struct {
	n map[Kind]int
	h map[Kind]hash.Hash
}

func newHasher() *hasher {
	h := &hasher{n: map[Kind]int{}, h: map[Kind]hash.Hash{}}
	for _, k := range Kinds {
		h.h[k] = sha256.New()
	}
	return h
}

func add[T any](h *hasher, k Kind, batch []T) error {
	s := h.h[k]
	for i := range batch {
		b, err := json.Marshal(&batch[i])
		if err != nil {
			return fmt.Errorf("encode %s for the checksum: %w", k, err)
		}
		s.Write(b)
		s.Write([]byte{'\n'})
	}
	h.n[k] += len(batch)
	return nil
}

func (h *hasher) sums() map[Kind]Sum {
	out := make(map[Kind]Sum, len(Kinds))
	for _, k := range Kinds {
		out[k] = Sum{N: h.n[k], SHA256: hex.EncodeToString(h.h[k].Sum(nil))}
	}
	return out
}
