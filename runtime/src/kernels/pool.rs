//! Average, max and global average pooling in NHWC.
