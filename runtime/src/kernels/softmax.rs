//! Softmax over the innermost axis, f32 and int8.
