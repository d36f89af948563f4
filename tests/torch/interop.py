#!/usr/bin/python3
"""interop.py - the PyTorch side of the weight-file interoperability test (stdlib + torch only).

Builds a torch.nn.Module from a cnn-wasm architecture spec (the same text as the C core's, see
DESIGN.md "Interfaces" 1 and 2), with parameter names conv1, conv2, ..., fc1, fc2, ... so that its
state_dict keys are exactly the tensor names of a cnn-wasm .safetensors file, and reads/writes that file by
hand (u64 little-endian header length, JSON header, raw little-endian F32 data).

Images are raw little-endian float32 files of N images in (N, H, W, C) order (the order Model.predict takes);
probabilities are written as raw float32 (N, classes).

Usage:
  interop.py predict WEIGHTS IMAGES_F32 N OUT_F32
      Rebuilds the model from the file's __metadata__ spec, loads it with load_state_dict(strict=True) and
      writes its eval-mode softmax probabilities for the N images.
  interop.py export SPEC_FILE IMAGES_F32 N OUT_WEIGHTS OUT_F32 [--seed S]
                    [--train IMAGES_IDX LABELS_IDX] [--steps K] [--batch B] [--lr LR]
      SPEC_FILE holds a spec text (';' or newlines between layers) or a preset name (keras, pytorch, mlp).
      Builds the model with torch.manual_seed(S) (default 1), optionally trains it K steps (default 20) with
      Adam on the first K*B images of an uncompressed IDX pair, then writes it as a cnn-wasm .safetensors file
      (canonical spec in the metadata) and its probabilities for the N images.
"""
import array
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

if sys.byteorder != "little":
    sys.exit("interop.py: this script assumes a little-endian host")

PRESETS = {
    "keras": "conv2d 32 3x3 relu; maxpool 2; conv2d 64 3x3 relu; maxpool 2; flatten; dense 128 relu; "
             "dropout 0.5; dense 10",
    "pytorch": "conv2d 32 3x3 relu; conv2d 64 3x3 relu; maxpool 2; dropout 0.25; flatten; dense 128 relu; "
               "dropout 0.5; dense 10",
    "mlp": "flatten; dense 128 relu; dense 10",
}
ACTIVATIONS = ("relu", "sigmoid", "tanh")


# ---- spec ----------------------------------------------------------------------------------------------------

def parse_spec(text):
    """Parses a spec (or preset name) into ((h, w, c) of the input, layers, canonical text).

    Each layer is a tuple: ("conv", out, k, pad), ("dense", out), ("maxpool",), ("avgpool",), ("relu",),
    ("sigmoid",), ("tanh",), ("dropout", p), ("flatten",). Mirrors c_src/spec.c: a dense layer on a
    non-flat input gets an implicit flatten, and the output softmax is implicit (allowed as last statement).
    """
    text = PRESETS.get(text.strip().lower(), text)
    stmts = []
    for line in text.lower().splitlines():
        line = line.split("#", 1)[0]
        stmts += [s.strip() for s in line.split(";") if s.strip()]
    h, w, c, flat = 28, 28, 1, False
    layers = []
    for i, stmt in enumerate(stmts):
        words = stmt.replace(",", " ").split()
        kind, args = words[0], words[1:]
        where = f"spec statement {i + 1} '{stmt}'"
        if kind == "input":
            dims = [int(v) for v in args[0].split("x")]
            if i != 0 or len(dims) not in (2, 3):
                raise ValueError(f"{where}: bad input")
            h, w, c = dims[0], dims[1], dims[2] if len(dims) == 3 else 1
        elif kind in ("conv2d", "conv"):
            out = int(args[0])
            k, k2 = (int(v) for v in args[1].split("x"))
            if k != k2:
                raise ValueError(f"{where}: only square kernels")
            same, act = False, None
            for opt in args[2:]:
                if opt in ("same", "valid"):
                    same = opt == "same"
                elif opt in ACTIVATIONS:
                    act = opt
                else:
                    raise ValueError(f"{where}: unknown option {opt}")
            pad = (k - 1) // 2 if same else 0
            layers.append(("conv", out, k, pad))
            h, w, c = h + 2 * pad - k + 1, w + 2 * pad - k + 1, out
            if act:
                layers.append((act,))
        elif kind in ("maxpool", "avgpool"):
            if args not in ([], ["2"], ["2x2"]):
                raise ValueError(f"{where}: only 2x2 pooling")
            layers.append((kind,))
            h, w = h // 2, w // 2
        elif kind in ("dense", "linear"):
            if not flat:
                layers.append(("flatten",))
                flat = True
            layers.append(("dense", int(args[0])))
            h, w, c = 1, 1, int(args[0])
            if len(args) > 1:
                layers.append((args[1],))
        elif kind in ACTIVATIONS:
            layers.append((kind,))
        elif kind == "dropout":
            layers.append(("dropout", float(args[0])))
        elif kind == "flatten":
            if not flat:
                layers.append(("flatten",))
                flat = True
        elif kind == "softmax":
            if i != len(stmts) - 1:
                raise ValueError(f"{where}: softmax must be last")
        else:
            raise ValueError(f"{where}: unknown layer")
    if not layers or layers[-1][0] != "dense":
        raise ValueError("spec: the network must end with a dense layer")
    shape = input_shape(stmts)
    return shape, layers, canonical(layers, *shape)


def input_shape(stmts):
    if stmts and stmts[0].split()[0] == "input":
        dims = [int(v) for v in stmts[0].split()[1].split("x")]
        return dims[0], dims[1], dims[2] if len(dims) == 3 else 1
    return 28, 28, 1


def canonical(layers, h, w, c):
    """The C core's canonical text (c_src/spec.c canonical_text): one layer per line, softmax last."""
    lines = [f"input {h}x{w}x{c}"]
    for l in layers:
        if l[0] == "conv":
            lines.append(f"conv2d {l[1]} {l[2]}x{l[2]} {'same' if l[3] else 'valid'}")
        elif l[0] == "dense":
            lines.append(f"dense {l[1]}")
        elif l[0] in ("maxpool", "avgpool"):
            lines.append(f"{l[0]} 2")
        elif l[0] == "dropout":
            lines.append("dropout %g" % l[1])
        else:
            lines.append(l[0])
    return "\n".join(lines + ["softmax"]) + "\n"


class SpecNet(nn.Module):
    """The network of a spec. forward() returns logits; probabilities() applies the output softmax."""

    def __init__(self, spec_text):
        super().__init__()
        (self.in_h, self.in_w, self.in_c), self.layers, self.spec = parse_spec(spec_text)
        h, w, c = self.in_h, self.in_w, self.in_c
        nconv = nfc = 0
        self.names = []
        for l in self.layers:
            name = None
            if l[0] == "conv":
                nconv += 1
                name = f"conv{nconv}"
                setattr(self, name, nn.Conv2d(c, l[1], l[2], padding=l[3]))
                h, w, c = h + 2 * l[3] - l[2] + 1, w + 2 * l[3] - l[2] + 1, l[1]
            elif l[0] == "dense":
                nfc += 1
                name = f"fc{nfc}"
                setattr(self, name, nn.Linear(h * w * c, l[1]))
                h, w, c = 1, 1, l[1]
            elif l[0] in ("maxpool", "avgpool"):
                h, w = h // 2, w // 2
            elif l[0] == "flatten":
                h, w, c = 1, 1, h * w * c
            self.names.append(name)
        self.classes = c

    def forward(self, x):  # x: (N, C, H, W)
        for l, name in zip(self.layers, self.names):
            k = l[0]
            if name:
                x = getattr(self, name)(x)
            elif k == "relu":
                x = F.relu(x)
            elif k == "sigmoid":
                x = torch.sigmoid(x)
            elif k == "tanh":
                x = torch.tanh(x)
            elif k == "maxpool":
                x = F.max_pool2d(x, 2)
            elif k == "avgpool":
                x = F.avg_pool2d(x, 2)
            elif k == "dropout":
                x = F.dropout(x, l[1], self.training)
            elif k == "flatten":
                x = x.flatten(1)  # (C, H, W) order, as in the weight file
        return x

    def probabilities(self, images_nhwc):
        """Eval-mode softmax probabilities for (N, H, W, C) float32 images."""
        self.eval()
        with torch.no_grad():
            return torch.softmax(self(images_nhwc.permute(0, 3, 1, 2).contiguous()), dim=1)


# ---- safetensors ---------------------------------------------------------------------------------------------

def read_safetensors(path):
    """Returns (tensors {name: float32 tensor}, metadata {str: str})."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']} (expected F32)")
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - begin != 4 * count or base + end > len(data):
            raise ValueError(f"{path}: tensor {name} has bad data_offsets {begin}..{end}")
        t = torch.frombuffer(data, dtype=torch.float32, offset=base + begin, count=count)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} as F32 in the given order, header padded with spaces to a multiple of 8."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        b = f32_bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def f32_bytes(t):
    """Raw little-endian float32 bytes of a tensor (the host is little-endian, checked above)."""
    return array.array("f", t.detach().to(torch.float32).flatten().tolist()).tobytes()


# ---- raw files -----------------------------------------------------------------------------------------------

def read_images(path, n, net):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    size = net.in_h * net.in_w * net.in_c
    if len(data) != 4 * n * size:
        raise ValueError(f"{path}: {len(data)} bytes, expected {n} x {size} float32")
    return torch.frombuffer(data, dtype=torch.float32).reshape(n, net.in_h, net.in_w, net.in_c).clone()


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype != 8:
        raise ValueError(f"{path}: not an uncompressed u8 IDX file")
    dims = struct.unpack_from(f">{ndim}I", data, 4)
    body = bytearray(data[4 + 4 * ndim:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims).clone()


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(f32_bytes(t))


# ---- commands ------------------------------------------------------------------------------------------------

def cmd_predict(weights, images, n, out):
    tensors, meta = read_safetensors(weights)
    if meta.get("format") != "cnn-wasm" or "spec" not in meta:
        raise ValueError(f"{weights}: metadata lacks format=cnn-wasm and a spec")
    net = SpecNet(meta["spec"])
    net.load_state_dict(tensors, strict=True)
    write_f32(out, net.probabilities(read_images(images, n, net)))


def cmd_export(spec_file, images, n, out_weights, out_probs, opts):
    with open(spec_file, encoding="utf-8") as f:
        text = f.read()
    torch.manual_seed(opts["seed"])
    net = SpecNet(text)
    if opts["train"]:
        x_all = read_idx(opts["train"][0])
        y_all = read_idx(opts["train"][1]).long()
        opt = torch.optim.Adam(net.parameters(), lr=opts["lr"])
        net.train()
        b = opts["batch"]
        for step in range(opts["steps"]):
            x = x_all[step * b:(step + 1) * b].to(torch.float32).div(255)
            x = x.reshape(-1, net.in_h, net.in_w, net.in_c).permute(0, 3, 1, 2)
            loss = F.cross_entropy(net(x), y_all[step * b:(step + 1) * b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    write_safetensors(out_weights, net.state_dict(),
                      {"format": "cnn-wasm", "format_version": "1", "spec": net.spec})
    write_f32(out_probs, net.probabilities(read_images(images, n, net)))


def main(argv):
    if len(argv) == 5 and argv[0] == "predict":
        cmd_predict(argv[1], argv[2], int(argv[3]), argv[4])
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
        cmd_export(argv[1], argv[2], int(argv[3]), argv[4], argv[5], opts)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])
