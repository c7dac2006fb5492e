package content

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Digest identifies a database's content: its seed, its size and the version of every page.
type Digest [32]byte

func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// lanes is a multiset hash of page versions: four independent 64-bit sums (mod 2^64) of a
// per-(page, version) hash. Sums commute, so the value depends only on the set of page
// versions, not on the order of the writes that produced it; and a write updates it in
// O(1) by subtracting the page's old term and adding the new one.
//
// A page at version 0 contributes 0 (the term is h(id,v) - h(id,0)). That is the same
// multiset hash shifted by a constant that depends only on (seed, DataPages), so the digest
// of a fresh database costs nothing to compute, whatever its size.
type lanes [4]uint64

// laneKeys are per-seed keys of the four lanes, derived once per database.
type laneKeys [4]uint64

func newLaneKeys(seed uint64) laneKeys {
	var k laneKeys
	for j := range k {
		k[j] = fmix64(seed ^ (uint64(j)+1)*0x9e3779b97f4a7c15)
	}
	return k
}

// term is lane j's hash of page id at version v. fmix64 is a bijection, so for a fixed page
// two different versions never give the same term in any lane.
func (k *laneKeys) term(j int, id int64, v LSN) uint64 {
	return fmix64(fmix64(k[j]^uint64(id)) ^ uint64(v))
}

// move updates l for page id changing from version from to version to.
func (l *lanes) move(k *laneKeys, id int64, from, to LSN) {
	if from == to {
		return
	}
	for j := range l {
		l[j] += k.term(j, id, to) - k.term(j, id, from)
	}
}

// digest finalizes lanes with the database's identity. SHA-256 here is cheap (once per
// call) and gives the 32-byte value tests compare.
func (l *lanes) digest(seed uint64, dataPages int64) Digest {
	var b [8 + 8 + 8 + 32]byte
	copy(b[:], "sqlvcd01")
	binary.LittleEndian.PutUint64(b[8:], seed)
	binary.LittleEndian.PutUint64(b[16:], uint64(dataPages))
	for j, v := range l {
		binary.LittleEndian.PutUint64(b[24+8*j:], v)
	}
	return sha256.Sum256(b[:])
}
