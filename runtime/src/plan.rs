//! The static memory planner (host only) and its overlap checker.
//!
//! Every activation gets a fixed byte offset in one arena, decided on the host when the model is
//! written, so the device needs no allocator and the arena size is known before flashing.
//!
//! # Algorithm
//! 1. **Lifetimes.** A buffer must stay intact from the op that writes it (`first`; 0 for graph
//!    inputs) to the last op that reads it (`last`; the op count for graph outputs).
//! 2. **Overlap groups.** Where an op may write its output over an input that dies at this op
//!    ([`Overlap`]: in place, `shift` 0, for elementwise ops and Reshape; a convolution's output
//!    `shift` bytes before its input), the two buffers are merged into one group with fixed
//!    relative offsets, whose lifetime is the union and whose size spans all its members. Chains
//!    merge transitively.
//! 3. **Greedy placement by size** (as TFLite Micro's greedy planner): groups are placed from the
//!    largest to the smallest (ties: earlier `first`, then index). Each goes at the lowest
//!    16-byte-aligned offset where it overlaps no already placed group that is live at the same
//!    time. The arena is the highest end, rounded up to 16.
//!
//! An op's scratch is one more buffer, live during that op only (`first == last`), so it lands
//! in bytes that are dead while the op runs. Which overlaps to use is the writer's choice
//! (`format::writer`): every in-place one, and a convolution's only where it shrinks the arena.
//!
//! Placement is `O(n²)` in the number of buffers, which is fine for models of thousands of
//! tensors. [`check`] verifies any plan independently; the model loader runs the same rule on
//! every file, so a planner bug can never reach a device as memory corruption.

use std::vec;
use std::vec::Vec;

use crate::format::ALIGN;

/// One activation buffer to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

/// Buffer `input` lies `shift` bytes after the start of buffer `output` (0: the same bytes), and
/// the two may share bytes although both are live at the op between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub input: usize,
    pub output: usize,
    pub shift: usize,
}

/// A finished plan: the offset of every buffer and the arena size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub offsets: Vec<usize>,
    pub arena_bytes: usize,
}

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// The groups of `overlaps` over `n` buffers: each buffer's root and its offset from the root's.
fn groups(n: usize, overlaps: &[Overlap]) -> Vec<(usize, i64)> {
    let mut parent: Vec<usize> = (0..n).collect();
    let mut rel = vec![0i64; n];
    let root = |parent: &[usize], rel: &[i64], mut i: usize| {
        let mut off = 0;
        while parent[i] != i {
            off += rel[i];
            i = parent[i];
        }
        (i, off)
    };
    for o in overlaps {
        let ((ra, oa), (rb, ob)) = (root(&parent, &rel, o.input), root(&parent, &rel, o.output));
        if ra != rb {
            parent[rb] = ra;
            rel[rb] = oa - ob - o.shift as i64;
        }
    }
    (0..n).map(|i| root(&parent, &rel, i)).collect()
}

/// Places `buffers`, keeping every pair of `overlaps` at its shift.
pub fn plan(buffers: &[Buffer], overlaps: &[Overlap]) -> Plan {
    let n = buffers.len();
    let member = groups(n, overlaps);
    // Per root: the group's extent relative to the root, and its lifetime.
    let mut lo = vec![i64::MAX; n];
    let mut hi = vec![i64::MIN; n];
    let mut life = vec![(usize::MAX, 0usize); n];
    for (i, b) in buffers.iter().enumerate() {
        let (r, o) = member[i];
        lo[r] = lo[r].min(o);
        hi[r] = hi[r].max(o + b.size as i64);
        life[r] = (life[r].0.min(b.first), life[r].1.max(b.last));
    }
    let group = |r: usize| Buffer { size: (hi[r] - lo[r]) as usize, first: life[r].0, last: life[r].1 };
    let mut order: Vec<usize> = (0..n).filter(|&i| member[i].0 == i).collect();
    order.sort_by(|&a, &b| {
        let (ga, gb) = (group(a), group(b));
        gb.size.cmp(&ga.size).then(ga.first.cmp(&gb.first)).then(a.cmp(&b))
    });

    let mut placed: Vec<(usize, Buffer)> = Vec::new();
    let mut base = vec![0usize; n];
    let mut arena = 0;
    for &g in &order {
        let b = group(g);
        let mut busy: Vec<(usize, usize)> =
            placed.iter().filter(|(_, other)| other.first <= b.last && b.first <= other.last).map(|&(off, other)| (off, off + other.size)).collect();
        busy.sort_unstable();
        let mut at = 0;
        for (start, end) in busy {
            if at + b.size <= start {
                break;
            }
            at = at.max(align_up(end));
        }
        base[g] = at;
        arena = arena.max(align_up(at + b.size));
        placed.push((at, b));
    }
    let offsets = (0..n).map(|i| base[member[i].0] + (member[i].1 - lo[member[i].0]) as usize).collect();
    Plan { offsets, arena_bytes: arena }
}

/// Checks a plan: every buffer inside the arena and aligned, and no two buffers that are live at
/// the same time share a byte, except members of one group of `overlaps` at their relative
/// offsets. Returns the first offending pair.
pub fn check(buffers: &[Buffer], overlaps: &[Overlap], plan: &Plan) -> Result<(), (usize, usize)> {
    for (i, b) in buffers.iter().enumerate() {
        let off = plan.offsets[i];
        if off % ALIGN != 0 || off + b.size > plan.arena_bytes {
            return Err((i, i));
        }
    }
    let member = groups(buffers.len(), overlaps);
    for i in 0..buffers.len() {
        for j in i + 1..buffers.len() {
            let (a, b) = (buffers[i], buffers[j]);
            let (oa, ob) = (plan.offsets[i], plan.offsets[j]);
            let live = a.first <= b.last && b.first <= a.last;
            let bytes = oa < ob + b.size && ob < oa + a.size;
            let grouped = member[i].0 == member[j].0 && oa as i64 - ob as i64 == member[i].1 - member[j].1;
            if live && bytes && !grouped {
                return Err((i, j));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chain_reuses_two_buffers() {
        // a -> b -> c -> d: each buffer only lives across one op boundary.
        let bufs: Vec<Buffer> = (0..4).map(|i| Buffer { size: 100, first: i, last: i + 1 }).collect();
        let p = plan(&bufs, &[]);
        check(&bufs, &[], &p).unwrap();
        assert_eq!(p.arena_bytes, 224);
        assert_eq!(p.offsets[0], p.offsets[2]);
        assert_eq!(p.offsets[1], p.offsets[3]);
    }

    #[test]
    fn largest_first_and_aliases_share() {
        let bufs = [
            Buffer { size: 10, first: 0, last: 2 },
            Buffer { size: 300, first: 1, last: 2 },
            Buffer { size: 300, first: 2, last: 3 },
        ];
        let alias = [Overlap { input: 1, output: 2, shift: 0 }];
        let p = plan(&bufs, &alias);
        check(&bufs, &alias, &p).unwrap();
        assert_eq!(p.offsets[1], p.offsets[2]);
        assert_eq!(p.offsets[1], 0);
        assert_eq!(p.offsets[0], 304);
        assert_eq!(p.arena_bytes, 320);
        let bad = Plan { offsets: vec![0, 0, 304], arena_bytes: 608 };
        assert_eq!(check(&bufs, &[], &bad), Err((0, 1)));
    }

    #[test]
    fn a_shifted_overlap_spans_both_buffers() {
        // x -> conv -> y with y 32 bytes before x, beside a buffer live throughout.
        let bufs = [Buffer { size: 100, first: 0, last: 1 }, Buffer { size: 96, first: 1, last: 2 }, Buffer { size: 40, first: 0, last: 2 }];
        let overlap = [Overlap { input: 0, output: 1, shift: 32 }];
        let p = plan(&bufs, &overlap);
        check(&bufs, &overlap, &p).unwrap();
        assert_eq!(p.offsets[0], p.offsets[1] + 32);
        assert_eq!((p.offsets[1], p.offsets[2]), (0, 144));
        assert_eq!(p.arena_bytes, 192);
        // Without the overlap the pair may not share bytes.
        assert_eq!(check(&bufs, &[], &p), Err((0, 1)));
        let wrong = Plan { offsets: vec![16, 0, 144], arena_bytes: 192 };
        assert_eq!(check(&bufs, &overlap, &wrong), Err((0, 1)));
    }

    proptest! {
        #[test]
        fn plans_never_overlap(raw in proptest::collection::vec((1usize..5000, 0usize..20, 0usize..8), 1..40)) {
            let bufs: Vec<Buffer> = raw.iter().map(|&(size, first, span)| Buffer { size, first, last: first + span }).collect();
            let p = plan(&bufs, &[]);
            prop_assert_eq!(check(&bufs, &[], &p), Ok(()));
            // Never worse than giving every buffer its own space.
            let naive: usize = bufs.iter().map(|b| align_up(b.size)).sum();
            prop_assert!(p.arena_bytes <= naive);
            // Never better than the peak of simultaneously live bytes.
            let peak = (0..28).map(|t| bufs.iter().filter(|b| b.first <= t && t <= b.last).map(|b| b.size).sum::<usize>()).max().unwrap();
            prop_assert!(p.arena_bytes >= peak);
        }
    }
}
