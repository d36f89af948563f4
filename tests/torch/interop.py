#!/usr/bin/python3
"""interop.py - the PyTorch side of the interoperability tests (stdlib + torch only).

The network is the module tools/to-pytorch.mjs generates (MODEL_DIR/model.py): the same layer names, tensor
names and layouts as a cnn-wasm .safetensors file, so files load with load_state_dict(strict=True).

Images are raw little-endian float32 files of N images in (N, H, W, C) order (the order Model.predict takes);
labels raw uint8 (N); probabilities are written as raw float32 (N, classes).

Usage:
  interop.py predict MODEL_DIR WEIGHTS IMAGES_F32 N OUT_F32
      Loads WEIGHTS strictly and writes its eval-mode softmax probabilities for the N images.
  interop.py export MODEL_DIR IMAGES_F32 N OUT_WEIGHTS OUT_F32 [--seed S]
                    [--train IMAGES_IDX LABELS_IDX] [--steps K] [--batch B] [--lr LR]
      Builds the network with torch.manual_seed(S) (default 1), optionally trains it K steps (default 20) with
      Adam in training mode (batch norm keeps running statistics) on the first K*B images of an uncompressed
      IDX pair, then writes it as a cnn-wasm .safetensors file and its probabilities for the N images.
  interop.py sgd MODEL_DIR WEIGHTS IMAGES_F32 LABELS_U8 N STEPS LR OUT_WEIGHTS
      Loads WEIGHTS, runs STEPS steps of plain SGD (no momentum) in training mode, each on all N images, and
      writes the result (weights, running statistics, batch counters).
"""
import array
import importlib.util
import os
import struct
import sys

import torch
import torch.nn.functional as F

if sys.byteorder != "little":
    sys.exit("interop.py: this script assumes a little-endian host")


def load_module(model_dir):
    spec = importlib.util.spec_from_file_location("model", os.path.join(model_dir, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_f32(path, n, shape):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    size = 1
    for d in shape:
        size *= d
    if len(data) != 4 * n * size:
        raise ValueError(f"{path}: {len(data)} bytes, expected {n} x {size} float32")
    return torch.frombuffer(data, dtype=torch.float32).reshape(n, *shape).clone()


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype != 8:
        raise ValueError(f"{path}: not an uncompressed u8 IDX file")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims).clone()


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(array.array("f", t.detach().to(torch.float32).flatten().tolist()).tobytes())


def nchw(images_nhwc):
    return images_nhwc.permute(0, 3, 1, 2).contiguous()


def cmd_predict(model, weights, images, n, out):
    net = model.load(weights)
    write_f32(out, model.probabilities(net, read_f32(images, n, model.INPUT_SHAPE)))


def cmd_export(model, images, n, out_weights, out_probs, opts):
    torch.manual_seed(opts["seed"])
    net = model.Net()
    if opts["train"]:
        h, w, c = model.INPUT_SHAPE
        x_all = read_idx(opts["train"][0])
        y_all = read_idx(opts["train"][1]).long()
        opt = torch.optim.Adam(net.parameters(), lr=opts["lr"])
        net.train()
        b = opts["batch"]
        for step in range(opts["steps"]):
            x = x_all[step * b:(step + 1) * b].to(torch.float32).div(255).reshape(-1, h, w, c)
            loss = F.cross_entropy(net(nchw(x)), y_all[step * b:(step + 1) * b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.save(net, out_weights)
    write_f32(out_probs, model.probabilities(net, read_f32(images, n, model.INPUT_SHAPE)))


def cmd_sgd(model, weights, images, labels, n, steps, lr, out):
    net = model.load(weights)
    x = nchw(read_f32(images, n, model.INPUT_SHAPE))
    with open(labels, "rb") as f:
        y = torch.tensor(list(f.read()), dtype=torch.long)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0)
    net.train()
    for _ in range(steps):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save(net, out)


def main(argv):
    if len(argv) == 6 and argv[0] == "predict":
        cmd_predict(load_module(argv[1]), argv[2], argv[3], int(argv[4]), argv[5])
        return
    if len(argv) == 9 and argv[0] == "sgd":
        cmd_sgd(load_module(argv[1]), argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), float(argv[7]), argv[8])
        return
    if len(argv) >= 6 and argv[0] == "export":
        opts = {"seed": 1, "train": None, "steps": 20, "batch": 64, "lr": 1e-3}
        rest = argv[6:]
        while rest:
            flag = rest.pop(0)
            if flag == "--train" and len(rest) >= 2:
                opts["train"] = (rest.pop(0), rest.pop(0))
            elif flag in ("--seed", "--steps", "--batch") and rest:
                opts[flag[2:]] = int(rest.pop(0))
            elif flag == "--lr" and rest:
                opts["lr"] = float(rest.pop(0))
            else:
                sys.exit(f"interop.py: unknown or incomplete option {flag}")
        cmd_export(load_module(argv[1]), argv[2], int(argv[3]), argv[4], argv[5], opts)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])
