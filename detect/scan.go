package detect

import (
	"encoding/binary"
	"math/bits"
)

// The scanner finds every occurrence of a set of short literals (the
// anchors: token prefixes, field-name endings, keywords) with a 3-gram
// filter rather than a byte-at-a-time automaton or a regular expression.
//
// Every anchor is at least minAnchor bytes long, so with q = 3 the
// step = len-q+1 consecutive 3-grams at its start cover every residue of
// its position modulo step. The scan loads one word every step bytes and
// tests a hash of its low three bytes against a small bitmap; only a hit
// looks the 3-gram up and compares the anchors that contain it, each at the
// one place it can start. Clean text makes the bitmap miss almost always.
type scanner struct {
	step   int
	bitmap []uint64
	bshift uint
	// Open-addressing table from 3-gram to refs[start:end]; end == 0
	// marks an empty slot.
	slots  []gramSlot
	tshift uint
	tmask  uint32
	refs   []gramRef
	lits   []string
}

type gramSlot struct {
	key        uint32
	start, end uint32
}

// gramRef says that a 3-gram occurs at offset off of anchor lit.
type gramRef struct {
	lit int32
	off int32
}

const (
	gramLen   = 3
	minAnchor = 4
	hashMul   = 0x9e3779b97f4a7c15
	tableMul  = 0xff51afd7ed558ccd // independent of the bitmap's hash
)

// hit is one anchor found: lits[lit] at text[at:].
type hit struct{ lit, at int32 }

// newScanner indexes lits, each at least minAnchor bytes long.
func newScanner(lits []string) *scanner {
	s := &scanner{lits: lits}
	grams := map[uint32][]gramRef{}
	var keys []uint32 // first-seen order, for reproducible builds
	shortest := 0
	for i, l := range lits {
		if i == 0 || len(l) < shortest {
			shortest = len(l)
		}
	}
	if shortest < minAnchor {
		panic("detect: anchor shorter than 4 bytes")
	}
	// Two bytes a step keep the bitmap test cheap; a longer step would
	// need longer anchors than "AKIA" and "sk-X".
	s.step = min(shortest-gramLen+1, 2)
	for i, l := range lits {
		for off := 0; off < s.step; off++ {
			k := gram([]byte(l), off)
			if _, ok := grams[k]; !ok {
				keys = append(keys, k)
			}
			grams[k] = append(grams[k], gramRef{lit: int32(i), off: int32(off)})
		}
	}
	// About 256 bits per 3-gram keeps hash collisions near 0.4% of tests
	// while the bitmap stays in L2; each collision costs a table lookup.
	bbits := max(14, min(20, bits.Len(uint(256*len(keys)))))
	s.bitmap = make([]uint64, 1<<bbits/64)
	s.bshift = uint(64 - bbits)
	tbits := max(4, bits.Len(uint(2*len(keys))))
	s.slots = make([]gramSlot, 1<<tbits)
	s.tshift = uint(64 - tbits)
	s.tmask = uint32(1<<tbits - 1)
	for _, k := range keys {
		h := (uint64(k) * hashMul) >> s.bshift
		s.bitmap[h>>6] |= 1 << (h & 63)
		i := uint32((uint64(k) * tableMul) >> s.tshift)
		for s.slots[i].end != 0 {
			i = (i + 1) & s.tmask
		}
		start := uint32(len(s.refs))
		s.refs = append(s.refs, grams[k]...)
		s.slots[i] = gramSlot{key: k, start: start, end: uint32(len(s.refs))}
	}
	return s
}

// lookup returns where the 3-gram k occurs in the anchors.
func (s *scanner) lookup(k uint32) []gramRef {
	i := uint32((uint64(k) * tableMul) >> s.tshift)
	for {
		sl := &s.slots[i]
		if sl.end == 0 {
			return nil
		}
		if sl.key == k {
			return s.refs[sl.start:sl.end]
		}
		i = (i + 1) & s.tmask
	}
}

// gram returns the 3 bytes of b at i as a key.
func gram(b []byte, i int) uint32 {
	return uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16
}

// find appends to dst every occurrence of every anchor in text.
func (s *scanner) find(text []byte, dst []hit) []hit {
	if len(text) < minAnchor {
		return dst
	}
	p := 0
	bitmap, shift, step := s.bitmap, s.bshift, s.step
	if step == 2 {
		// The hot loop: one load gives the 3-grams at p, p+2 and p+4;
		// their three bitmap tests are independent, so they overlap in the
		// pipeline, and one branch covers six bytes.
		for ; p+8 <= len(text); p += 6 {
			w := binary.LittleEndian.Uint64(text[p:])
			h0 := ((w & 0xffffff) * hashMul) >> shift
			h1 := ((w >> 16 & 0xffffff) * hashMul) >> shift
			h2 := ((w >> 32 & 0xffffff) * hashMul) >> shift
			if bitmap[h0>>6]&(1<<(h0&63))|bitmap[h1>>6]&(1<<(h1&63))|bitmap[h2>>6]&(1<<(h2&63)) == 0 {
				continue
			}
			for i := 0; i < 3; i++ {
				k := w >> (16 * i) & 0xffffff
				h := (k * hashMul) >> shift
				if bitmap[h>>6]&(1<<(h&63)) != 0 {
					dst = s.verify(text, p+2*i, uint32(k), dst)
				}
			}
		}
	}
	for ; p+gramLen <= len(text); p += step {
		k := gram(text, p)
		h := (uint64(k) * hashMul) >> shift
		if bitmap[h>>6]&(1<<(h&63)) != 0 {
			dst = s.verify(text, p, k, dst)
		}
	}
	return dst
}

// verify compares each anchor whose 3-gram k was seen at p.
func (s *scanner) verify(text []byte, p int, k uint32, dst []hit) []hit {
	for _, g := range s.lookup(k) {
		at := p - int(g.off)
		l := s.lits[g.lit]
		if at < 0 || at+len(l) > len(text) || string(text[at:at+len(l)]) != l {
			continue
		}
		dst = append(dst, hit{lit: g.lit, at: int32(at)})
	}
	return dst
}
