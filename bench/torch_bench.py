"""torch_bench.py — times one reference model with PyTorch (own process, for a fair peak RSS).

usage: /usr/bin/python3 torch_bench.py EXPR C H W THREADS WARMUP RUNS [--onnx OUT.onnx]
Prints one JSON line. With --onnx, exports the model to ONNX instead (opset 13) and exits.
"""
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.normpath(os.path.join(HERE, "..", "examples", "pytorch", "example_networks.py"))


def main():
    expr, c, h, w, threads, warmup, runs = sys.argv[1:8]
    ns = {"__file__": REFERENCE}  # example_networks.py imports modern_networks.py from its own folder
    exec(compile(open(REFERENCE).read(), REFERENCE, "exec"), ns)
    torch.manual_seed(0)
    model = eval(expr, ns).eval()
    x = torch.rand(1, int(c), int(h), int(w))
    if "--onnx" in sys.argv:
        out = sys.argv[sys.argv.index("--onnx") + 1]
        torch.onnx.export(model, x, out, opset_version=13, input_names=["input"], output_names=["output"])
        return
    torch.set_num_threads(int(threads))
    times = []
    with torch.no_grad():
        for _ in range(int(warmup)):
            model(x)
        for _ in range(int(runs)):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "median_ms": times[len(times) // 2],
                      "min_ms": times[0], "max_ms": times[-1], "peak_rss_mb": rss}))


if __name__ == "__main__":
    main()
