//! 2-D convolution in NHWC: regular, depthwise and grouped, with stride, dilation and padding.
