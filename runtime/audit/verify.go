package audit

import (
	"fmt"
)

// Break names the first record where a chain stops verifying.
type Break struct {
	// Seq is the record that breaks the chain: the one whose content no
	// longer matches its hash, whose Prev does not match the record before
	// it, or the first one missing.
	Seq uint64 `json:"seq"`
	// Reason says what is wrong, in plain words.
	Reason string `json:"reason"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain breaks at record %d: %s", b.Seq, b.Reason)
}

// Verification is the result of walking a chain.
type Verification struct {
	Chain string `json:"chain"`
	// Checked is how many records were read.
	Checked uint64 `json:"checked"`
	// First and Last are the Seqs of the first and last record read.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Head is the hash of the last record read.
	Head Hash `json:"head"`
	// Broken is nil when every record verified.
	Broken *Break `json:"broken,omitempty"`
}

// OK reports whether the chain verified.
func (v Verification) OK() bool { return v.Broken == nil }

// Verifier walks a chain one record at a time, in Seq order, and stops at
// the first break. Its zero value expects the chain from its first record
// (Seq 1, Prev all zeros); FromMiddle accepts a chain whose older records
// were trimmed (the store's copy once PostgreSQL holds them).
type Verifier struct {
	// FromMiddle accepts a first record with any Seq and Prev.
	FromMiddle bool
	// AnchorSeq and AnchorHash, when AnchorSeq > 0, name a record known to
	// have been written with that hash (see Finish).
	AnchorSeq  uint64
	AnchorHash Hash

	res     Verification
	prev    Hash
	scratch []byte
}

// Add checks the next record and returns the break it finds (also kept in
// Result), or nil. After a break it checks nothing more.
func (v *Verifier) Add(r *Record) *Break {
	if v.res.Broken != nil {
		return v.res.Broken
	}
	var h Hash
	h, v.scratch = r.hashInto(v.scratch)
	switch {
	case v.res.Checked == 0:
		v.res.Chain, v.res.First = r.Chain, r.Seq
		if !v.FromMiddle && r.Seq != 1 {
			return v.broke(1, fmt.Sprintf("the chain starts at record %d: records 1 to %d are missing", r.Seq, r.Seq-1))
		}
		if !v.FromMiddle && r.Prev != (Hash{}) {
			return v.broke(r.Seq, "the first record does not start the chain (its prev hash is not zero)")
		}
	case r.Seq <= v.res.Last:
		return v.broke(r.Seq, fmt.Sprintf("record %d comes again after record %d", r.Seq, v.res.Last))
	case r.Seq != v.res.Last+1:
		missing := v.res.Last + 1
		if r.Seq-1 == missing {
			return v.broke(missing, fmt.Sprintf("record %d is missing (record %d follows record %d)", missing, r.Seq, v.res.Last))
		}
		return v.broke(missing, fmt.Sprintf("records %d to %d are missing (record %d follows record %d)", missing, r.Seq-1, r.Seq, v.res.Last))
	case r.Chain != v.res.Chain:
		return v.broke(r.Seq, fmt.Sprintf("record %d belongs to chain %q, not %q", r.Seq, r.Chain, v.res.Chain))
	}
	if h != r.Hash {
		return v.broke(r.Seq, fmt.Sprintf("record %d's content does not match its hash (changed after it was written)", r.Seq))
	}
	if v.res.Checked > 0 && r.Prev != v.prev {
		return v.broke(r.Seq, fmt.Sprintf("record %d does not follow record %d (its prev hash differs)", r.Seq, v.res.Last))
	}
	if r.Seq == v.AnchorSeq && h != v.AnchorHash {
		return v.broke(r.Seq, fmt.Sprintf("record %d is not the one written (hash %s, written %s)", r.Seq, h.Short(), v.AnchorHash.Short()))
	}
	v.res.Checked++
	v.res.Last, v.res.Head, v.prev = r.Seq, h, h
	return nil
}

// Finish ends the walk. A deleted tail leaves the records before it
// verifying, so the walk is compared with an anchor kept elsewhere (the
// store's record of what reached PostgreSQL): the chain must reach the
// anchor's Seq, and the record there must carry the anchor's hash.
func (v *Verifier) Finish() Verification {
	if v.res.Broken == nil && v.AnchorSeq > 0 && v.res.Last < v.AnchorSeq {
		v.broke(v.res.Last+1, fmt.Sprintf("the chain ends at record %d but record %d was written: the tail is missing", v.res.Last, v.AnchorSeq))
	}
	return v.res
}

func (v *Verifier) broke(seq uint64, reason string) *Break {
	v.res.Broken = &Break{Seq: seq, Reason: reason}
	return v.res.Broken
}
