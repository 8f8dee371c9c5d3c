#!/usr/bin/env python3
"""run_bench.py — unetgen against ONNX Runtime and PyTorch, side by side, in one run.

For each bench model: builds the spec with `unetgen build`, gives the reference model random weights,
exports them (safetensors for unetgen, ONNX for ONNX Runtime), then times each engine in its own process
with the same thread count, warm-up and number of runs (median reported), and the machine's fp32 FMA peak
with bench/fma_peak.cpp. PyTorch runs three ways (bench/torch_bench.py --mode): eager, TorchScript
(traced, frozen, optimize_for_inference: its best fp32 CPU path) and that TorchScript under bf16 autocast.
Writes bench/RESULTS.md and bench/results.png.

usage: /usr/bin/python3 bench/run_bench.py --unetgen build/cli/unetgen [--threads 2] [--runs 5] [--only NAME]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(ROOT, "examples", "pytorch", "example_networks.py")  # the project's references
OUT = os.path.join(HERE, "out")

# name, spec, reference expression, input C, H, W
MODELS = [
    ("UNet001 transposed", "milesial_transposed", "UNet001(3, 1, bilinear=False)", 3, 256, 256),
    ("UNet001 bilinear", "milesial_bilinear", "UNet001(3, 1, bilinear=True)", 3, 256, 256),
    ("UNet004 (Ronneberger)", "ronneberger2015", "UNet004(1, 2)", 1, 572, 572),
    ("UNet003Small", "small", "UNet003Small(3, 32)", 3, 128, 128),
    # The U-Nets trained today (examples/pytorch/modern_networks.py)
    ("nnU-Net 2-D plain", "nnunet_plain", "NnUNetPlain(1, 3)", 1, 256, 256),
    ("MONAI BasicUNet", "monai_basic", "MonaiBasicUNet(1, 2)", 1, 256, 256),
    ("MONAI UNet (residual)", "monai_resunet", "MonaiResUNet(1, 2)", 1, 256, 256),
    ("Attention U-Net", "attention_unet", "AttentionUNet(3, 1)", 3, 256, 256),
]


def sh(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        sys.stderr.write(f"$ {' '.join(cmd)}\n{p.stdout}\n{p.stderr}\n")
        raise SystemExit(f"bench: command failed: {cmd[0]} {cmd[1] if len(cmd) > 1 else ''}")
    return p.stdout


def torch_mode(expr, c, h, w, threads, runs, mode):
    """bench/torch_bench.py --mode MODE's JSON, or {"failed": reason}: a PyTorch mode that cannot run a
    model (TorchScript cannot trace everything) is a result for the table, not a reason to stop the bench."""
    cmd = [sys.executable, os.path.join(HERE, "torch_bench.py"), expr, str(c), str(h), str(w), str(threads), "1",
           str(runs), "--mode", mode]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode == 0:
        try:
            return last_json(p.stdout)
        except json.JSONDecodeError:
            return {"failed": "no JSON in its output"}
    sys.stderr.write(f"$ {' '.join(cmd)}\n{p.stdout}\n{p.stderr}\n")
    # The exception's last line ("RuntimeError: ...") says most; a kill by signal has none.
    tail = [line.strip() for line in p.stderr.splitlines() if line.strip()]
    reason = tail[-1] if tail else f"exit status {p.returncode}"
    return {"failed": reason[:120].replace("|", "/")}


def last_json(text):
    """The last JSON object in a command's output (one line, or pretty-printed over several)."""
    lines = text.strip().splitlines()
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].lstrip().startswith("{"):
            try:
                return json.loads("\n".join(lines[k:]))
            except json.JSONDecodeError:
                continue
    return json.loads(text)


def isa_flags():
    """The vector-ISA flags of the CPU (/proc/cpuinfo): what the tables' speeds depend on."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    keep = ("avx", "fma", "amx", "f16c")
                    return " ".join(sorted({x for x in line.split(":", 1)[1].split() if x.startswith(keep)}))
    except OSError:
        pass
    return "unknown"


def fma_peak(threads):
    exe = os.path.join(OUT, "fma_peak")
    sh(["g++", "-O3", "-march=native", "-pthread", os.path.join(HERE, "fma_peak.cpp"), "-o", exe])
    return last_json(sh([exe, str(threads)]))


def ensure_onnxruntime():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "onnxruntime-node")):
        print("bench: installing onnxruntime-node from npm ...", flush=True)
        sh(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", HERE,
            "onnxruntime-node"])


def unetgen_bench(args, spec, expr, c, h, w, runs, precision="fp32"):
    lib = os.path.join(OUT, spec if precision == "fp32" else f"{spec}_{precision}")
    print(f"bench: unetgen build {spec} --precision {precision} ...", flush=True)
    sh([args.unetgen, "build", os.path.join(ROOT, "examples", "specs", spec + ".unet"), "-o", lib,
        "--precision", precision])
    weights = os.path.join(OUT, spec + ".safetensors")
    if not os.path.exists(weights):
        ckpt = os.path.join(OUT, spec + ".pt")
        sh([sys.executable, "-c", f"import torch; __file__ = {REFERENCE!r}; exec(open(__file__).read()); torch.manual_seed(0); "
            f"torch.save(({expr}).state_dict(), {ckpt!r})"])
        sh([sys.executable, os.path.join(ROOT, "tools", "export_pytorch.py"), "--spec",
            os.path.join(ROOT, "examples", "specs", spec + ".unet"), "--module", REFERENCE, "--model", expr,
            "--state-dict", ckpt, "--out", weights, "--unetgen", args.unetgen])
    text = sh([args.unetgen, "bench", lib, "--weights", weights, "--size", f"{c}x{h}x{w}", "--threads",
               str(args.threads), "--runs", str(runs), "--warmup", "1", "--json"])
    r = last_json(text)
    r["median_ms"] = float(r.get("median_ms", r.get("median", 0)))
    return r


def check_flops(args, spec, c, h, w):
    j = last_json(sh([args.unetgen, "check", os.path.join(ROOT, "examples", "specs", spec + ".unet"),
                      "--json", "--size", f"{c}x{h}x{w}"]))
    return float(j["flops"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default=None, help="run only the model whose spec name is this")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    ensure_onnxruntime()
    peak = fma_peak(args.threads)
    print(f"bench: fp32 FMA peak {peak['gflops']:.0f} GFLOP/s ({peak['isa']}, {args.threads} threads)", flush=True)

    rows = []
    for title, spec, expr, c, h, w in MODELS:
        if args.only and spec != args.only:
            continue
        gflop = check_flops(args, spec, c, h, w) / 1e9
        loads = [os.getloadavg()[0]]
        # A millisecond model gets more runs (every engine alike), so one scheduler hiccup on a
        # shared machine cannot move its median.
        runs = args.runs if gflop >= 1 else max(args.runs, 50)
        ours = unetgen_bench(args, spec, expr, c, h, w, runs)
        # The fast mode (bf16 Winograd GEMMs, AMX where the CPU has it) beside fp32.
        fast = unetgen_bench(args, spec, expr, c, h, w, runs, "bf16")
        onnx = os.path.join(OUT, spec + ".onnx")
        if not os.path.exists(onnx):
            sh([sys.executable, os.path.join(HERE, "torch_bench.py"), expr, str(c), str(h), str(w), "1", "0", "0",
                "--onnx", onnx])
        print(f"bench: {title}: onnxruntime ...", flush=True)
        ort = last_json(sh(["node", os.path.join(HERE, "ort_bench.js"), onnx, str(c), str(h), str(w),
                            str(args.threads), "1", str(runs)]))
        print(f"bench: {title}: pytorch ...", flush=True)
        pt = last_json(sh([sys.executable, os.path.join(HERE, "torch_bench.py"), expr, str(c), str(h), str(w),
                           str(args.threads), "1", str(runs)]))
        # PyTorch's best CPU configurations beside eager, each in its own process like every engine.
        peers = {}
        for key, mode in (("script", "script"), ("script_bf16", "script_bf16")):
            print(f"bench: {title}: pytorch --mode {mode} ...", flush=True)
            peers[key] = torch_mode(expr, c, h, w, args.threads, runs, mode)
        loads.append(os.getloadavg()[0])
        rows.append(dict(title=title, size=f"{c}x{h}x{w}", gflop=gflop, ours=ours, fast=fast, ort=ort, torch=pt,
                         loads=loads, **peers))
        print(f"bench: {title}: unetgen {ours['median_ms']:.1f} ms (bf16 {fast['median_ms']:.1f} ms), onnxruntime "
              f"{ort['median_ms']:.1f} ms, pytorch {pt['median_ms']:.1f} ms, TorchScript "
              + ", bf16 ".join(f"failed ({e['failed']})" if "failed" in e else
                               f"{e['median_ms']:.1f} ms (max |diff| {e.get('max_abs_diff', float('nan')):.2g})"
                               for e in peers.values()), flush=True)

    table = render(rows, peak, args)
    print(table)
    if not args.no_write and not args.only:
        write_results(table, rows, peak, args)


def torch_version(r):
    """The PyTorch version, from whichever PyTorch row has one (a failed mode reports none)."""
    for key in ("torch", "script", "script_bf16"):
        if r.get(key, {}).get("version"):
            return r[key]["version"]
    return ""


def render(rows, peak, args):
    lines = ["| model, input | GFLOP | engine | median ms | GFLOP/s | % of peak | peak RSS MiB | unetgen speedup |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    for r in rows:
        v = torch_version(r)
        # A bf16 TorchScript that could not be built is timed as eager autocast: the label says which ran.
        bf16_how = "eager" if "note" in r.get("script_bf16", {}) else "TorchScript"
        for key, name in (("ours", "unetgen"), ("fast", "unetgen --precision bf16"),
                          ("ort", f"ONNX Runtime {r['ort'].get('version', '')}"),
                          ("torch", f"PyTorch {r['torch'].get('version', '')}"),
                          ("script", f"PyTorch {v} TorchScript (frozen, optimize_for_inference)"),
                          ("script_bf16", f"PyTorch {v} bf16 autocast ({bf16_how})")):
            if key not in r:
                continue
            e = r[key]
            if "note" in e:
                notes.append(f"- {r['title']}, {name}: {e['note']}.")
            if "failed" in e:
                lines.append(f"| {r['title']}, {r['size']} | {r['gflop']:.2f} | {name} | failed: {e['failed']} "
                             "|  |  |  |  |")
                continue
            ms = e["median_ms"]
            gfs = r["gflop"] / (ms / 1e3)
            # Peers: their time over unetgen fp32's; the fast mode: ONNX Runtime's over its own; PyTorch's
            # bf16 row: its time over unetgen's bf16 mode (like against like).
            speed = ("" if key == "ours" else f"ORT / this {r['ort']['median_ms'] / ms:.2f}x" if key == "fast"
                     else f"this / unetgen bf16 {ms / r['fast']['median_ms']:.2f}x" if key == "script_bf16"
                     else f"{ms / r['ours']['median_ms']:.2f}x")
            rss = e.get("peak_rss_mb", e.get("peak_rss_mib"))  # unetgen bench says MiB
            lines.append(f"| {r['title']}, {r['size']} | {r['gflop']:.2f} | {name} | {ms:.1f} | {gfs:.0f} | "
                         f"{100 * gfs / peak['gflops']:.0f}% | {rss:.0f} | {speed} |" if rss is not None else
                         f"| {r['title']}, {r['size']} | {r['gflop']:.2f} | {name} | {ms:.1f} | {gfs:.0f} | "
                         f"{100 * gfs / peak['gflops']:.0f}% | ? | {speed} |")
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "")


def write_results(table, rows, peak, args):
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # One file per CPU kind (bench/runs/<cpu>.md, this run replacing the last on the same kind);
    # RESULTS.md shows this run, then the last run on every other kind.
    runs_dir = os.path.join(HERE, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-") or "unknown-cpu"
    with open(os.path.join(runs_dir, slug + ".md"), "w") as f:
        f.write(f"## {cpu}, {datetime.date.today()}\n\n")
        write_run(f, table, rows, peak, args, cpu)
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("# Benchmark results\n\n")
        write_run(f, table, rows, peak, args, cpu)
        f.write("\n![results](results.png)\n")
        for other in sorted(os.listdir(runs_dir)):
            if other.endswith(".md") and other != slug + ".md":
                f.write("\n# The last run on another CPU kind\n\n" + open(os.path.join(runs_dir, other)).read())
        notes = os.path.join(HERE, "results_notes.md")  # hand-written analysis, kept across runs
        if os.path.exists(notes):
            f.write("\n" + open(notes).read())
        large = os.path.join(HERE, "large_results.md")  # bench/large_image_bench.py's last run, kept
        if os.path.exists(large):
            f.write("\n" + open(large).read())
    plot(rows, peak, args)


def write_run(f, table, rows, peak, args, cpu):
    """The run's part of a results file: how it was produced, the machine, the table."""
    f.write(f"Produced by `{' '.join(['bench/run_bench.py'] + sys.argv[1:])}` (what `make bench` runs) on "
            f"{datetime.date.today()}.\n\n")
    f.write(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"measured fp32 FMA peak {peak['gflops']:.0f} GFLOP/s ({peak['isa']}, {args.threads} threads, "
            f"bench/fma_peak.cpp)"
            + "".join(f"; {label} {peak[key]:.0f} GFLOP/s" for key, label in
                      (("bf16_dot_gflops", "AVX512-BF16 dot-product peak"), ("amx_bf16_gflops", "AMX-BF16 peak"))
                      if key in peak)
            + f".\n\nISA flags: {isa_flags()}.\n\n")
    f.write(f"fp32, batch 1, {args.threads} threads for every engine, 1 warm-up run (3 for TorchScript, whose "
            f"profiling executor optimises the graph over its first calls), median of {args.runs} runs "
            "(50 for models under 1 GFLOP); "
            "each engine in its own process (peak RSS is that process's). PyTorch runs three ways: eager (the "
            "nn.Module as written), TorchScript (traced, frozen, `optimize_for_inference`: BatchNorm folded into "
            "the convolutions, oneDNN convolutions; its best fp32 CPU configuration) and that TorchScript "
            "traced and run under bf16 autocast (`torch.autocast(\"cpu\", dtype=torch.bfloat16)`; autocast's "
            "own op list, which in PyTorch 1.13 runs convolutions in bf16 but transposed convolutions in fp32). "
            "The speedup column is the peer's "
            "time over unetgen's (above 1: unetgen is faster); on the `unetgen --precision bf16` rows (the fast "
            "mode: bf16 Winograd GEMMs with float32 sums, on AMX where the CPU has AMX-BF16, the rest fp32) it is "
            "ONNX Runtime's fp32 time over the fast mode's, and on the PyTorch bf16 autocast rows it is "
            "PyTorch's bf16 time over the fast mode's.\n\n")
    loads = [x for r in rows for x in r["loads"]]
    f.write(f"Machine load (1-minute load average, read before and after each model's engines): "
            f"{min(loads):.2f} to {max(loads):.2f} on {os.cpu_count()} cores. The engines' own {args.threads} threads "
            "count in it (it lags by about a minute), so values near the thread count mean a quiet machine and "
            "values well above it mean other processes competed.\n\n")
    f.write(table + "\n")


def plot(rows, peak, args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4))
        names = [r["title"] for r in rows]
        xs = range(len(rows))
        # The fp32 engines only (the plot's title says fp32); a failed or missing mode draws no bar.
        engines = (("ours", "unetgen"), ("ort", "ONNX Runtime"), ("torch", "PyTorch eager"),
                   ("script", "PyTorch TorchScript"))
        width = 0.8 / len(engines)
        for k, (key, label) in enumerate(engines):
            ax.bar([x + width * (k - (len(engines) - 1) / 2) for x in xs],
                   [r["gflop"] / (r[key]["median_ms"] / 1e3) if "median_ms" in r.get(key, {}) else 0 for r in rows],
                   width=width, label=label)
        ax.axhline(peak["gflops"], color="gray", linestyle="--", linewidth=1, label="FMA peak")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_ylabel("GFLOP/s (higher is better)")
        ax.set_title(f"fp32, batch 1, {args.threads} threads")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(HERE, "results.png"), dpi=100)
    except ImportError:
        print("bench: matplotlib missing, no plot written")


if __name__ == "__main__":
    main()
