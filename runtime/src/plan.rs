//! The static memory planner (host only) and its overlap checker.
//!
//! Every activation gets a fixed byte offset in one arena, decided on the host when the model is
//! written, so the device needs no allocator and the arena size is known before flashing.
//!
//! # Algorithm
//! 1. **Lifetimes.** A buffer must stay intact from the op that writes it (`first`; 0 for graph
//!    inputs) to the last op that reads it (`last`; the op count for graph outputs).
//! 2. **In-place groups.** Where an op may write its output over an input (elementwise ops,
//!    Reshape) and that input dies at this op and has the output's size, the two buffers are
//!    merged into one group whose lifetime is the union. Chains merge transitively.
//! 3. **Greedy placement by size** (as TFLite Micro's greedy planner): groups are placed from the
//!    largest to the smallest (ties: earlier `first`, then index). Each goes at the lowest
//!    16-byte-aligned offset where it overlaps no already placed group that is live at the same
//!    time. The arena is the highest end, rounded up to 16.
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

/// A finished plan: the offset of every buffer and the arena size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub offsets: Vec<usize>,
    pub arena_bytes: usize,
}

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Places `buffers`; `aliases` lists `(input, output)` pairs that must share their bytes.
pub fn plan(buffers: &[Buffer], aliases: &[(usize, usize)]) -> Plan {
    let n = buffers.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for &(a, b) in aliases {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[rb] = ra;
        }
    }
    let mut groups: Vec<Buffer> = buffers.to_vec();
    let mut is_root = vec![false; n];
    for (i, &b) in buffers.iter().enumerate() {
        let r = find(&mut parent, i);
        is_root[r] = true;
        let g = &mut groups[r];
        g.size = g.size.max(b.size);
        g.first = g.first.min(b.first);
        g.last = g.last.max(b.last);
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| is_root[i]).collect();
    order.sort_by(|&a, &b| {
        let (ga, gb) = (groups[a], groups[b]);
        gb.size.cmp(&ga.size).then(ga.first.cmp(&gb.first)).then(a.cmp(&b))
    });

    let mut placed: Vec<(usize, usize)> = Vec::new();
    let mut offset_of = vec![0usize; n];
    let mut arena = 0;
    for &g in &order {
        let b = groups[g];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&(_, other)| groups[other].first <= b.last && b.first <= groups[other].last)
            .map(|&(off, other)| (off, off + groups[other].size))
            .collect();
        busy.sort_unstable();
        let mut at = 0;
        for (start, end) in busy {
            if at + b.size <= start {
                break;
            }
            at = at.max(align_up(end));
        }
        offset_of[g] = at;
        arena = arena.max(align_up(at + b.size));
        placed.push((at, g));
    }
    let offsets = (0..n).map(|i| offset_of[find(&mut parent, i)]).collect();
    Plan { offsets, arena_bytes: arena }
}

/// Checks a plan: every buffer inside the arena and aligned, and no two buffers that are live at
/// the same time share a byte, except pairs in `aliases` placed at the same offset.
/// Returns the first offending pair.
pub fn check(buffers: &[Buffer], aliases: &[(usize, usize)], plan: &Plan) -> Result<(), (usize, usize)> {
    for (i, b) in buffers.iter().enumerate() {
        let off = plan.offsets[i];
        if off % ALIGN != 0 || off + b.size > plan.arena_bytes {
            return Err((i, i));
        }
    }
    let mut parent: Vec<usize> = (0..buffers.len()).collect();
    for &(a, b) in aliases {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[rb] = ra;
    }
    for i in 0..buffers.len() {
        for j in i + 1..buffers.len() {
            let (a, b) = (buffers[i], buffers[j]);
            let (oa, ob) = (plan.offsets[i], plan.offsets[j]);
            let live = a.first <= b.last && b.first <= a.last;
            let bytes = oa < ob + b.size && ob < oa + a.size;
            let aliased = find(&mut parent, i) == find(&mut parent, j) && oa == ob;
            if live && bytes && !aliased {
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
        let p = plan(&bufs, &[(1, 2)]);
        check(&bufs, &[(1, 2)], &p).unwrap();
        assert_eq!(p.offsets[1], p.offsets[2]);
        assert_eq!(p.offsets[1], 0);
        assert_eq!(p.offsets[0], 304);
        assert_eq!(p.arena_bytes, 320);
        let bad = Plan { offsets: vec![0, 0, 304], arena_bytes: 608 };
        assert_eq!(check(&bufs, &[], &bad), Err((0, 1)));
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
