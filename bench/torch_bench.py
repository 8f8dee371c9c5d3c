"""torch_bench.py — times one reference model with PyTorch (own process, for a fair peak RSS).

usage: /usr/bin/python3 torch_bench.py EXPR C H W THREADS WARMUP RUNS [--mode MODE] [--onnx OUT.onnx]
Prints one JSON line. With --onnx, exports the model to ONNX instead (opset 13) and exits.

MODE is one of
  eager        the nn.Module as written (default)
  script       TorchScript, PyTorch's best fp32 CPU path: traced, frozen (weights become constants,
               BatchNorm folded into the convolutions) and optimize_for_inference (oneDNN convolutions)
  script_bf16  the same traced and frozen model with bf16 autocast, traced under autocast so the weight
               casts are folded into bf16 constants; falls back to eager autocast (with a "note") if that
               fails for a model. Which ops run in bf16 is autocast's list: in 1.13, convolutions do,
               transposed convolutions stay fp32
The script modes also report max_abs_diff: their output against the eager fp32 output, so a wrong graph
cannot pass as a fast one.
"""
import json
import os
import resource
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.normpath(os.path.join(HERE, "..", "examples", "pytorch", "example_networks.py"))
MODES = ("eager", "script", "script_bf16")
# TorchScript's profiling executor specialises the graph over the first calls (two profiling runs, then
# the optimised plan), so fewer warm-up runs than this would time the profiling, not the model.
SCRIPT_MIN_WARMUP = 3


def option(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def bf16_autocast():
    # cache_enabled=False: autocast's cache of cast weights would otherwise turn into trace constants on the
    # second (checking) trace run only, and the trace check fails with "Graphs differed across invocations".
    return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)


def prepare(model, x, mode):
    """The callable to time, the context to run it in, and a note (or None)."""
    if mode == "eager":
        return model, torch.no_grad, None
    if mode == "script":
        traced = torch.jit.trace(model, x)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced)), torch.no_grad, None
    # script_bf16. The JIT's own autocast pass would re-insert casts into a graph traced under autocast,
    # which already holds them (in 1.13 the trace check then fails with a channel-count error); the trace
    # records autocast's casts itself, so the pass is switched off.
    if hasattr(torch._C, "_jit_set_autocast_mode"):
        torch._C._jit_set_autocast_mode(False)
    try:
        with bf16_autocast():
            traced = torch.jit.trace(model, x)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            frozen(x)  # fail here, not in the timed loop
        return frozen, bf16_autocast, None
    except Exception as e:  # noqa: BLE001 — any failure of the script path means: time eager autocast
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        return model, bf16_autocast, f"TorchScript under autocast failed ({type(e).__name__}: {reason}); eager autocast timed"


def main():
    expr, c, h, w, threads, warmup, runs = sys.argv[1:8]
    mode = option("--mode", "eager")
    if mode not in MODES:
        raise SystemExit(f"torch_bench: --mode must be one of {', '.join(MODES)}, not {mode!r}")
    ns = {"__file__": REFERENCE}  # example_networks.py imports modern_networks.py from its own folder
    exec(compile(open(REFERENCE).read(), REFERENCE, "exec"), ns)
    torch.manual_seed(0)
    model = eval(expr, ns).eval()
    x = torch.rand(1, int(c), int(h), int(w))
    if "--onnx" in sys.argv:
        torch.onnx.export(model, x, option("--onnx"), opset_version=13, input_names=["input"],
                          output_names=["output"])
        return
    torch.set_num_threads(int(threads))  # before tracing, so oneDNN's primitives are made for this count
    warmup = int(warmup) if mode == "eager" else max(int(warmup), SCRIPT_MIN_WARMUP)
    with torch.no_grad():
        ref = model(x) if mode != "eager" else None
        fn, context, note = prepare(model, x, mode)
        times = []
        with context():
            for _ in range(warmup):
                y = fn(x)
            for _ in range(int(runs)):
                t0 = time.perf_counter()
                y = fn(x)
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"engine": "pytorch", "mode": mode, "version": torch.__version__, "median_ms": times[len(times) // 2],
              "min_ms": times[0], "max_ms": times[-1], "peak_rss_mb": rss, "warmup": warmup}
    if ref is not None and warmup + int(runs) > 0:
        result["max_abs_diff"] = (y.float() - ref).abs().max().item()
    if note:
        result["note"] = note
    print(json.dumps(result))


if __name__ == "__main__":
    main()
