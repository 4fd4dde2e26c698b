package boltstore

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
)

// putOrdered appends v as 8 big-endian bytes that sort like the signed value.
func putOrdered(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^(1<<63))
}

// getOrdered reads a value written by putOrdered.
func getOrdered(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
}

// putDescending appends v as 8 bytes that sort in descending order of v.
func putDescending(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^(uint64(v) ^ (1 << 63)))
}

// join concatenates parts separated by 0 bytes.
func join(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// prefixEnd returns the smallest key greater than every key with prefix p
// (nil if there is none).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// newRev returns CouchDB-style revision n: "n-<32 hex>".
func newRev(n int) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var out [20 + 1 + 32]byte
	s := strconv.AppendInt(out[:0], int64(n), 10)
	s = append(s, '-')
	s = hex.AppendEncode(s, b[:])
	return string(s)
}

// nextRev returns a fresh revision following rev ("" → generation 1). ok is
// false if rev is not of the form "n-...".
func nextRev(rev string) (string, bool) {
	if rev == "" {
		return newRev(1), true
	}
	num, _, found := strings.Cut(rev, "-")
	n, err := strconv.Atoi(num)
	if !found || err != nil || n < 1 {
		return "", false
	}
	return newRev(n + 1), true
}
