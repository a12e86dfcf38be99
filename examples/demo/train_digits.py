#!/usr/bin/env python3
"""Train Mote's demo model: a small CNN on scikit-learn's bundled 8x8 handwritten digits.

Everything is plain numpy (im2col convolutions, hand-written backward pass, Adam), with a
fixed seed and single-threaded BLAS, so two runs on the same machine write byte-identical
files. Outputs, next to this script:

  digits.onnx        the float model, ONNX opset 13, input `x` [1,1,8,8] f32, output `probs` [1,10]
  digits.npz         `x` [N,1,8,8] f32 (pixel/16), `y` [N] int64, `calib_idx`, `eval_idx` (int64)
  digits_meta.json   accuracy, parameter count, file sizes and the training settings

Usage: python train_digits.py [--out-dir DIR] [--verify]
  --verify  also runs the ONNX file with onnxruntime (requirements-verify.txt) and checks
            that it predicts the same class as the numpy model on every evaluation row.
"""

import os

# Single-threaded BLAS: the order of floating-point sums then no longer depends on the
# number of cores, which keeps the trained weights (and so the files) reproducible.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

SEED = 20240607
TEST_FRACTION = 0.2
N_CALIB = 200
EPOCHS = 40
BATCH = 32
LR = 3e-3
WEIGHT_DECAY = 1e-4
C1, C2, N_CLASSES = 8, 16, 10
OPSET = 13
IR_VERSION = 7  # the IR version that came with opset 13: readable by old and new tools


# ---------------------------------------------------------------------------------------------
# Layers (NCHW, float64 while training)


def im2col3x3(x):
    """[B,C,H,W] -> [B*H*W, C*9], zero padding 1; columns ordered (c, kh, kw) like ONNX Conv weights."""
    b, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, c, 3, 3, h, w), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, i, j] = xp[:, :, i:i + h, j:j + w]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(b * h * w, c * 9)


def col2im3x3(dcols, shape):
    """Adjoint of im2col3x3: [B*H*W, C*9] -> [B,C,H,W]."""
    b, c, h, w = shape
    d = dcols.reshape(b, h, w, c, 3, 3).transpose(0, 3, 4, 5, 1, 2)
    dxp = np.zeros((b, c, h + 2, w + 2), dtype=dcols.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + w] += d[:, :, i, j]
    return dxp[:, :, 1:-1, 1:-1]


def conv3x3_forward(x, w, bias):
    b, _, h, wd = x.shape
    cols = im2col3x3(x)
    out = cols @ w.reshape(w.shape[0], -1).T + bias
    return out.reshape(b, h, wd, -1).transpose(0, 3, 1, 2), cols


def conv3x3_backward(dout, cols, w, x_shape, need_dx):
    o = w.shape[0]
    d = dout.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dx = col2im3x3(d @ w.reshape(o, -1), x_shape) if need_dx else None
    return dx, dw, db


def maxpool2_forward(x):
    b, c, h, w = x.shape
    win = x.reshape(b, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(b, c, h // 2, w // 2, 4)
    arg = win.argmax(axis=-1)
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], arg


def maxpool2_backward(dout, arg, x_shape):
    b, c, h, w = x_shape
    dwin = np.zeros((b, c, h // 2, w // 2, 4), dtype=dout.dtype)
    np.put_along_axis(dwin, arg[..., None], dout[..., None], axis=-1)
    return dwin.reshape(b, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x_shape)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(p, x, keep=False):
    """Logits for x [B,1,8,8]; with keep=True also what the backward pass needs."""
    a1, cols1 = conv3x3_forward(x, p["w1"], p["b1"])
    r1 = np.maximum(a1, 0)
    m1, arg1 = maxpool2_forward(r1)  # [B,8,4,4]
    a2, cols2 = conv3x3_forward(m1, p["w2"], p["b2"])
    r2 = np.maximum(a2, 0)
    m2, arg2 = maxpool2_forward(r2)  # [B,16,2,2]
    flat = m2.reshape(m2.shape[0], -1)  # (c, h, w) order, like ONNX Flatten on NCHW
    logits = flat @ p["w3"].T + p["b3"]
    if not keep:
        return logits
    return logits, (x.shape, cols1, a1, r1.shape, arg1, m1.shape, cols2, a2, r2.shape, arg2, m2.shape, flat)


def backward(p, cache, dlogits):
    (x_shape, cols1, a1, r1_shape, arg1, m1_shape, cols2, a2, r2_shape, arg2, m2_shape, flat) = cache
    g = {"w3": dlogits.T @ flat, "b3": dlogits.sum(axis=0)}
    dm2 = (dlogits @ p["w3"]).reshape(m2_shape)
    dr2 = maxpool2_backward(dm2, arg2, r2_shape)
    da2 = dr2 * (a2 > 0)
    dm1, g["w2"], g["b2"] = conv3x3_backward(da2, cols2, p["w2"], m1_shape, need_dx=True)
    dr1 = maxpool2_backward(dm1, arg1, r1_shape)
    da1 = dr1 * (a1 > 0)
    _, g["w1"], g["b1"] = conv3x3_backward(da1, cols1, p["w1"], x_shape, need_dx=False)
    return g


# ---------------------------------------------------------------------------------------------
# Training


def init_params(rng):
    def he(shape, fan_in):
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)

    return {
        "w1": he((C1, 1, 3, 3), 9), "b1": np.zeros(C1),
        "w2": he((C2, C1, 3, 3), C1 * 9), "b2": np.zeros(C2),
        "w3": rng.standard_normal((N_CLASSES, C2 * 4)) * np.sqrt(1.0 / (C2 * 4)), "b3": np.zeros(N_CLASSES),
    }


def train(x, y, rng):
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    step = 0
    n = len(x)
    for epoch in range(EPOCHS):
        lr = LR * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS))  # cosine decay per epoch
        order = rng.permutation(n)
        total = 0.0
        for s in range(0, n, BATCH):
            idx = order[s:s + BATCH]
            logits, cache = forward(p, x[idx], keep=True)
            prob = softmax(logits)
            total += -np.log(prob[np.arange(len(idx)), y[idx]] + 1e-12).sum()
            dlogits = prob
            dlogits[np.arange(len(idx)), y[idx]] -= 1
            dlogits /= len(idx)
            g = backward(p, cache, dlogits)
            step += 1
            for k in p:
                gk = g[k] + (WEIGHT_DECAY * p[k] if k.startswith("w") else 0)
                m[k] = b1 * m[k] + (1 - b1) * gk
                v[k] = b2 * v[k] + (1 - b2) * gk * gk
                mh = m[k] / (1 - b1 ** step)
                vh = v[k] / (1 - b2 ** step)
                p[k] -= lr * mh / (np.sqrt(vh) + eps)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            print(f"epoch {epoch + 1:3d}  loss {total / n:.4f}")
    return p


# ---------------------------------------------------------------------------------------------
# Export


def export_onnx(p):
    f32 = {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in p.items()}
    inits = [
        numpy_helper.from_array(f32["w1"], "conv1.weight"), numpy_helper.from_array(f32["b1"], "conv1.bias"),
        numpy_helper.from_array(f32["w2"], "conv2.weight"), numpy_helper.from_array(f32["b2"], "conv2.bias"),
        numpy_helper.from_array(f32["w3"], "fc.weight"), numpy_helper.from_array(f32["b3"], "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["conv1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("MaxPool", ["relu2"], ["pool2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, N_CLASSES])],
        initializer=inits,
    )
    model = helper.make_model(graph, producer_name="mote-examples-demo", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = "8x8 handwritten digits (scikit-learn load_digits); input pixel/16, NCHW"
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(), f32


def write_npz(path, arrays):
    """Like np.savez_compressed, but with a fixed time stamp on every entry, so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def predict_f32(p32, x):
    """The exported float32 weights, run by the same numpy code in float32."""
    return np.concatenate([forward(p32, x[i:i + 256]) for i in range(0, len(x), 256)]).argmax(axis=1)


def verify_onnxruntime(onnx_bytes, x, expected, expected_probs):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
    got = np.array([sess.run(["probs"], {"x": x[i:i + 1]})[0][0] for i in range(len(x))])
    assert got.shape == (len(x), N_CLASSES)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    pred = got.argmax(axis=1)
    mismatches = int((pred != expected).sum())
    return pred, mismatches, float(np.abs(got - expected_probs).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--verify", action="store_true", help="check the ONNX file with onnxruntime")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    t0 = time.perf_counter()
    digits = load_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)  # [1797,1,8,8]
    y = digits.target.astype(np.int64)
    train_idx, eval_idx = train_test_split(np.arange(len(y)), test_size=TEST_FRACTION,
                                           random_state=SEED % (2**32), stratify=y)
    train_idx, eval_idx = np.sort(train_idx).astype(np.int64), np.sort(eval_idx).astype(np.int64)
    rng = np.random.default_rng(SEED)
    calib_idx = np.sort(rng.choice(train_idx, size=N_CALIB, replace=False)).astype(np.int64)

    params = train(x[train_idx].astype(np.float64), y[train_idx], rng)
    t_train = time.perf_counter() - t0

    onnx_bytes, p32 = export_onnx(params)
    pred_eval = predict_f32(p32, x[eval_idx])
    acc_eval = float((pred_eval == y[eval_idx]).mean())
    acc_train = float((predict_f32(p32, x[train_idx]) == y[train_idx]).mean())
    n_params = int(sum(v.size for v in p32.values()))

    onnx_path = os.path.join(args.out_dir, "digits.onnx")
    npz_path = os.path.join(args.out_dir, "digits.npz")
    with open(onnx_path, "wb") as f:
        f.write(onnx_bytes)
    write_npz(npz_path, {"x": x, "y": y, "calib_idx": calib_idx, "eval_idx": eval_idx})

    meta = {
        "data": "scikit-learn load_digits: 1797 8x8 images, a copy of the test part of the UCI Optical Recognition of Handwritten Digits data set",
        "preprocessing": "pixel / 16 as float32, NCHW [N,1,8,8]",
        "architecture": "Conv 1->8 3x3 p1, Relu, MaxPool 2, Conv 8->16 3x3 p1, Relu, MaxPool 2, Flatten, Gemm 64->10, Softmax",
        "seed": SEED,
        "epochs": EPOCHS, "batch": BATCH, "optimizer": f"Adam lr {LR} cosine, weight decay {WEIGHT_DECAY}",
        "n_train": int(len(train_idx)), "n_eval": int(len(eval_idx)), "n_calib": int(len(calib_idx)),
        "float_accuracy_eval": round(acc_eval, 6),
        "float_accuracy_train": round(acc_train, 6),
        "parameters": n_params,
        "onnx_opset": OPSET,
        "onnx_bytes": os.path.getsize(onnx_path),
        "npz_bytes": os.path.getsize(npz_path),
    }
    with open(os.path.join(args.out_dir, "digits_meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")

    print(f"training took {t_train:.1f} s")
    print(f"float accuracy: eval {acc_eval:.4f} ({len(eval_idx)} rows), train {acc_train:.4f}")
    print(f"parameters: {n_params}; digits.onnx {meta['onnx_bytes']} B, digits.npz {meta['npz_bytes']} B")

    if args.verify:
        probs_eval = softmax(forward(p32, x[eval_idx]))
        pred_ort, mismatches, max_diff = verify_onnxruntime(onnx_bytes, x[eval_idx], pred_eval, probs_eval)
        acc_ort = float((pred_ort == y[eval_idx]).mean())
        print(f"onnxruntime: accuracy {acc_ort:.4f}, {mismatches} prediction(s) differ from numpy, "
              f"max |probability difference| {max_diff:.2e}")
        if mismatches:
            raise SystemExit("onnxruntime and numpy disagree")


if __name__ == "__main__":
    main()
