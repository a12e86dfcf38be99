//! Micro-kernels in RV32IM assembly: one row × eight outputs for the fully connected layer
//! ([`dot_1x8`]), two pixels × four channels for the convolution ([`dot_2x4`]).
//!
//! A fully connected layer on one row uses each weight once: one `lb`, one `mul` and one `add`
//! per MAC are the floor on RV32IM, and what is left to share is the input byte (its load and
//! zero-point subtraction, over eight outputs) and the pointer steps (over four inputs, with the
//! loads at immediate offsets). LLVM at `opt-level = "s"` does not unroll the loop, and an
//! unrolled Rust body gets its loads scheduled first and its sums spilled; here every sum stays
//! in its register. Four inputs times eight outputs take 114 instructions (3.56 per MAC, against
//! 5 for the four-output Rust loop); four inputs of two pixels times four channels take 103
//! (3.22 per MAC, against 3.9 for the Rust loop, which steps six pointers per input).

use core::arch::asm;

/// One input: its load and zero-point subtraction, then eight weights' load, multiply and add.
macro_rules! step {
    ($o:literal) => {
        concat!(
            "lb {t}, ", $o, "({x})\n",
            "sub {t}, {t}, {zp}\n",
            "lb {u}, ", $o, "({p0})\n", "mul {u}, {u}, {t}\n", "add {a0}, {a0}, {u}\n",
            "lb {u}, ", $o, "({p1})\n", "mul {u}, {u}, {t}\n", "add {a1}, {a1}, {u}\n",
            "lb {u}, ", $o, "({p2})\n", "mul {u}, {u}, {t}\n", "add {a2}, {a2}, {u}\n",
            "lb {u}, ", $o, "({p3})\n", "mul {u}, {u}, {t}\n", "add {a3}, {a3}, {u}\n",
            "lb {u}, ", $o, "({p4})\n", "mul {u}, {u}, {t}\n", "add {a4}, {a4}, {u}\n",
            "lb {u}, ", $o, "({p5})\n", "mul {u}, {u}, {t}\n", "add {a5}, {a5}, {u}\n",
            "lb {u}, ", $o, "({p6})\n", "mul {u}, {u}, {t}\n", "add {a6}, {a6}, {u}\n",
            "lb {u}, ", $o, "({p7})\n", "mul {u}, {u}, {t}\n", "add {a7}, {a7}, {u}\n",
        )
    };
}

/// `acc[j] += Σ_i (x[i] - zp) · w[j·n + i]` for one row `x` of `n` inputs and the eight weight
/// rows that follow each other in `w`; `zp` in the int8 range.
#[inline(always)]
pub fn dot_1x8(x: &[i8], w: &[i8], zp: i32, acc: &mut [i32; 8]) {
    let n = x.len();
    let w = &w[..8 * n];
    let whole = n & !3;
    let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7] = *acc;
    if whole > 0 {
        let mut xp = x.as_ptr();
        // SAFETY: the loop reads bytes `0..whole` of `x` and of the eight rows of `n >= whole`
        // bytes in `w` (sliced above), and writes only its operands.
        unsafe {
            let mut p0 = w.as_ptr();
            let (mut p1, mut p2, mut p3) = (p0.add(n), p0.add(2 * n), p0.add(3 * n));
            let (mut p4, mut p5, mut p6, mut p7) = (p0.add(4 * n), p0.add(5 * n), p0.add(6 * n), p0.add(7 * n));
            let end = xp.add(whole);
            asm!(
                "2:",
                step!(0),
                step!(1),
                step!(2),
                step!(3),
                "addi {x}, {x}, 4",
                "addi {p0}, {p0}, 4",
                "addi {p1}, {p1}, 4",
                "addi {p2}, {p2}, 4",
                "addi {p3}, {p3}, 4",
                "addi {p4}, {p4}, 4",
                "addi {p5}, {p5}, 4",
                "addi {p6}, {p6}, 4",
                "addi {p7}, {p7}, 4",
                "bne {x}, {end}, 2b",
                x = inout(reg) xp,
                end = in(reg) end,
                zp = in(reg) zp,
                t = out(reg) _,
                u = out(reg) _,
                p0 = inout(reg) p0, p1 = inout(reg) p1, p2 = inout(reg) p2, p3 = inout(reg) p3,
                p4 = inout(reg) p4, p5 = inout(reg) p5, p6 = inout(reg) p6, p7 = inout(reg) p7,
                a0 = inout(reg) a0, a1 = inout(reg) a1, a2 = inout(reg) a2, a3 = inout(reg) a3,
                a4 = inout(reg) a4, a5 = inout(reg) a5, a6 = inout(reg) a6, a7 = inout(reg) a7,
                options(nostack, readonly),
            );
            let _ = (xp, p0, p1, p2, p3, p4, p5, p6, p7);
        }
    }
    for i in whole..n {
        let v = x[i] as i32 - zp;
        a0 = a0.wrapping_add(v.wrapping_mul(w[i] as i32));
        a1 = a1.wrapping_add(v.wrapping_mul(w[n + i] as i32));
        a2 = a2.wrapping_add(v.wrapping_mul(w[2 * n + i] as i32));
        a3 = a3.wrapping_add(v.wrapping_mul(w[3 * n + i] as i32));
        a4 = a4.wrapping_add(v.wrapping_mul(w[4 * n + i] as i32));
        a5 = a5.wrapping_add(v.wrapping_mul(w[5 * n + i] as i32));
        a6 = a6.wrapping_add(v.wrapping_mul(w[6 * n + i] as i32));
        a7 = a7.wrapping_add(v.wrapping_mul(w[7 * n + i] as i32));
    }
    *acc = [a0, a1, a2, a3, a4, a5, a6, a7];
}

/// One input position of two pixels: their loads and zero-point subtractions, then four
/// weights' load and two multiply-adds each.
macro_rules! step2 {
    ($o:literal) => {
        concat!(
            "lb {t}, ", $o, "({x0})\n",
            "sub {t}, {t}, {zp}\n",
            "lb {s}, ", $o, "({x1})\n",
            "sub {s}, {s}, {zp}\n",
            "lb {u}, ", $o, "({p0})\n", "mul {v}, {u}, {t}\n", "add {a0}, {a0}, {v}\n", "mul {u}, {u}, {s}\n", "add {b0}, {b0}, {u}\n",
            "lb {u}, ", $o, "({p1})\n", "mul {v}, {u}, {t}\n", "add {a1}, {a1}, {v}\n", "mul {u}, {u}, {s}\n", "add {b1}, {b1}, {u}\n",
            "lb {u}, ", $o, "({p2})\n", "mul {v}, {u}, {t}\n", "add {a2}, {a2}, {v}\n", "mul {u}, {u}, {s}\n", "add {b2}, {b2}, {u}\n",
            "lb {u}, ", $o, "({p3})\n", "mul {v}, {u}, {t}\n", "add {a3}, {a3}, {v}\n", "mul {u}, {u}, {s}\n", "add {b3}, {b3}, {u}\n",
        )
    };
}

/// `acc[p][j] += Σ_i (x[p][i] - zp) · w[j][i]` for two pixels and four channels; `zp` in the
/// int8 range.
#[inline(always)]
pub fn dot_2x4(x: [&[i8]; 2], w: [&[i8]; 4], zp: i32, acc: &mut [[i32; 4]; 2]) {
    let n = x[0].len();
    let (x0, x1) = (x[0], &x[1][..n]);
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let whole = n & !3;
    let [[mut a0, mut a1, mut a2, mut a3], [mut b0, mut b1, mut b2, mut b3]] = *acc;
    if whole > 0 {
        let (mut q0, mut q1) = (x0.as_ptr(), x1.as_ptr());
        let (mut p0, mut p1, mut p2, mut p3) = (w0.as_ptr(), w1.as_ptr(), w2.as_ptr(), w3.as_ptr());
        // SAFETY: the loop reads bytes `0..whole` of the six runs, each `n >= whole` long
        // (sliced above), and writes only its operands.
        unsafe {
            let end = q0.add(whole);
            asm!(
                "2:",
                step2!(0),
                step2!(1),
                step2!(2),
                step2!(3),
                "addi {x0}, {x0}, 4",
                "addi {x1}, {x1}, 4",
                "addi {p0}, {p0}, 4",
                "addi {p1}, {p1}, 4",
                "addi {p2}, {p2}, 4",
                "addi {p3}, {p3}, 4",
                "bne {x0}, {end}, 2b",
                x0 = inout(reg) q0,
                x1 = inout(reg) q1,
                end = in(reg) end,
                zp = in(reg) zp,
                t = out(reg) _,
                s = out(reg) _,
                u = out(reg) _,
                v = out(reg) _,
                p0 = inout(reg) p0, p1 = inout(reg) p1, p2 = inout(reg) p2, p3 = inout(reg) p3,
                a0 = inout(reg) a0, a1 = inout(reg) a1, a2 = inout(reg) a2, a3 = inout(reg) a3,
                b0 = inout(reg) b0, b1 = inout(reg) b1, b2 = inout(reg) b2, b3 = inout(reg) b3,
                options(nostack, readonly),
            );
            let _ = (q0, q1, p0, p1, p2, p3);
        }
    }
    for i in whole..n {
        let (p, q) = (x0[i] as i32 - zp, x1[i] as i32 - zp);
        let v = w0[i] as i32;
        a0 = a0.wrapping_add(p.wrapping_mul(v));
        b0 = b0.wrapping_add(q.wrapping_mul(v));
        let v = w1[i] as i32;
        a1 = a1.wrapping_add(p.wrapping_mul(v));
        b1 = b1.wrapping_add(q.wrapping_mul(v));
        let v = w2[i] as i32;
        a2 = a2.wrapping_add(p.wrapping_mul(v));
        b2 = b2.wrapping_add(q.wrapping_mul(v));
        let v = w3[i] as i32;
        a3 = a3.wrapping_add(p.wrapping_mul(v));
        b3 = b3.wrapping_add(q.wrapping_mul(v));
    }
    *acc = [[a0, a1, a2, a3], [b0, b1, b2, b3]];
}
