//! Fully connected layer (MatMul with a `[out, in]` weight matrix and an optional bias).
