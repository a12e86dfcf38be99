//! Data movement without arithmetic: Concat, Slice, Transpose, Pad.
