#!/usr/bin/python3
"""export_pytorch.py — write a PyTorch U-Net's weights as the safetensors file unetgen's runtime loads.

    export_pytorch.py --spec net.unet --module models.py --model 'UNet001(3, 1, bilinear=True)' \\
                      [--state-dict ckpt.pt] --out net.safetensors [--unetgen PATH] [--input-size CxHxW] \\
                      [--randomize SEED]

The spec fixes the canonical weight names and their order (`unetgen check SPEC --json`, key
"weights"); the model fixes which module holds which tensor. They are matched by running one
forward pass with hooks that record every Conv2d / ConvTranspose2d / BatchNorm2d call in order: the
k-th module called must be the k-th module of the spec, of the same kind and shapes. Any
difference is an error naming both sides. Attribute names in the model do not matter.

--randomize SEED gives every conv and BatchNorm random values (non-trivial running statistics and
affine parameters), for parity tests without a trained checkpoint. It is applied after
--state-dict, so use one or the other.

Runs with Debian's /usr/bin/python3 (torch 1.13); writes safetensors with json + struct only.
"""
import argparse
import glob
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys

KINDS = ("Conv2d", "ConvTranspose2d", "BatchNorm2d")


class ExportError(Exception):
    pass


# ---- the spec side ----------------------------------------------------------------------------

def find_unetgen(explicit):
    """The unetgen binary: --unetgen, $UNETGEN, PATH, then ./build*/cli/unetgen (cwd, repo root)."""
    if explicit:
        return explicit
    if os.environ.get("UNETGEN"):
        return os.environ["UNETGEN"]
    on_path = shutil.which("unetgen")
    if on_path:
        return on_path
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), repo):
        found = sorted(glob.glob(os.path.join(root, "build*", "cli", "unetgen")))
        if found:
            return found[0]
    raise ExportError("cannot find the unetgen binary: pass --unetgen PATH or set $UNETGEN")


def spec_weights(spec, unetgen, weights_list=None):
    """The spec's canonical weights: [{name, shape, module, module_kind}] in canonical order."""
    if weights_list:
        with open(weights_list) as f:
            data = json.load(f)
    else:
        exe = find_unetgen(unetgen)
        proc = subprocess.run([exe, "check", spec, "--json"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ExportError("cannot read the weights of spec %s: `%s check --json` failed:\n%s"
                              % (spec, exe, (proc.stderr or proc.stdout).strip()))
        try:
            data = json.loads(proc.stdout)
        except ValueError as e:
            raise ExportError("cannot read the weights of spec %s: `unetgen check --json` printed no JSON (%s)" % (spec, e))
    weights = data.get("weights") if isinstance(data, dict) else data
    if not isinstance(weights, list) or not weights:
        raise ExportError("cannot read the weights of spec %s: the JSON has no \"weights\" list" % spec)
    return weights


def group_by_module(weights):
    """[(module, kind, [weight, ...])] in canonical order (a module's tensors are adjacent)."""
    groups = []
    for w in weights:
        if groups and groups[-1][0] == w["module"]:
            groups[-1][2].append(w)
        else:
            groups.append((w["module"], w["module_kind"], [w]))
    return groups


# ---- the model side ---------------------------------------------------------------------------

def build_model(module_file, expr):
    """Evaluates EXPR in the namespace of MODULE_FILE (its folder importable, as for a script)."""
    path = os.path.abspath(module_file)
    if not os.path.isfile(path):
        raise ExportError("cannot load module file %s: no such file" % module_file)
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        return eval(expr, vars(mod))
    except Exception as e:
        raise ExportError("cannot build the model %r from %s: %s: %s" % (expr, module_file, type(e).__name__, e))


def load_state_dict(model, ckpt):
    import torch
    sd = torch.load(ckpt, map_location="cpu")
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        raise ExportError("cannot load checkpoint %s: it holds a %s, not a state dict" % (ckpt, type(sd).__name__))
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}  # DataParallel
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ExportError("cannot load checkpoint %s into the model: %s" % (ckpt, e))


def randomize_(model, seed):
    """Random conv weights and BatchNorm parameters *and* running statistics, in place.

    Scales keep activations O(1) through a deep U-Net so that parity tests compare meaningful
    numbers: weights ~ N(0, 1/fan_in) (He-like), BN gamma in [0.5, 1.5], beta and running_mean in
    [-0.3, 0.3], running_var in [0.5, 2]."""
    import torch
    import torch.nn as nn
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight
                fan_in = w.shape[1] * w.shape[2] * w.shape[3] if isinstance(m, nn.Conv2d) else w.shape[0]
                w.copy_(torch.randn(w.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) - 0.5) * 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                if m.weight is not None:
                    m.weight.copy_(0.5 + torch.rand(c, generator=g))
                    m.bias.copy_((torch.rand(c, generator=g) - 0.5) * 0.6)
                m.running_mean.copy_((torch.rand(c, generator=g) - 0.5) * 0.6)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))


def modules_in_call_order(model, input_size, in_channels):
    """Runs one forward pass; returns [(qualified name, module)] of conv / BN calls in order."""
    import torch
    import torch.nn as nn
    names = {m: n for n, m in model.named_modules()}
    calls = []

    def hook(m, inp, out):
        calls.append((names.get(m, "?"), m))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d))]
    # Sizes to try: the one asked for, else common ones until the model accepts one (valid-conv
    # networks need large inputs). Only the call order matters, not the values.
    # A model with other input channels than the spec still runs with its own first conv's, so
    # that the mismatch is reported module by module rather than as a failed forward pass.
    channels = [in_channels]
    first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first_conv is not None and first_conv.in_channels != in_channels:
        channels.append(first_conv.in_channels)
    sizes = [input_size] if input_size else [(c, s, s) for c in channels for s in (64, 128, 188, 252, 316, 572)]
    errors = []
    model.eval()
    try:
        for c, h, w in sizes:
            calls.clear()
            try:
                with torch.no_grad():
                    model(torch.zeros(1, c, h, w))
                break
            except Exception as e:  # a size the model cannot take: try the next
                errors.append("%dx%dx%d: %s: %s" % (c, h, w, type(e).__name__, e))
        else:
            raise ExportError("cannot run the model's forward pass to find its module order; tried\n  "
                              + "\n  ".join(errors) + "\n(pass --input-size CxHxW)")
    finally:
        for h in handles:
            h.remove()
    seen = {}
    for i, (n, m) in enumerate(calls):
        if m in seen:
            raise ExportError("cannot map module '%s': forward() calls it twice (module #%d and #%d); the spec "
                              "gives every conv and BatchNorm its own weights" % (n, seen[m] + 1, i + 1))
        seen[m] = i
    return calls


# ---- matching ---------------------------------------------------------------------------------

def module_text(name, m):
    kind = type(m).__name__
    if kind == "BatchNorm2d":
        return "BatchNorm2d '%s' with %d channels" % (name, m.num_features)
    return "%s '%s' with weight %s%s" % (kind, name, list(m.weight.shape), "" if m.bias is not None else " and no bias")


def describe(index, name, m):
    return "module #%d is %s" % (index, module_text(name, m))


def expected(group):
    module, kind, ws = group
    return "%s %s" % (module, list(ws[0]["shape"]))


def map_tensors(calls, groups):
    """[(canonical name, tensor)] in canonical order, or ExportError at the first disagreement."""
    out = []
    for k, ((name, m), group) in enumerate(zip(calls, groups), 1):
        module, kind, ws = group
        if type(m).__name__ != kind:
            raise ExportError("%s, the spec expects %s %s" % (describe(k, name, m), kind, expected(group)))
        for w in ws:
            attr = w["name"][len(module) + 1:]
            t = getattr(m, attr, None)
            if t is None:
                raise ExportError("%s, the spec expects %s: the module has no %s" % (describe(k, name, m), expected(group), attr))
            if list(t.shape) != list(w["shape"]) and w is ws[0]:
                raise ExportError("%s, the spec expects %s" % (describe(k, name, m), expected(group)))
            if list(t.shape) != list(w["shape"]):
                raise ExportError("%s, the spec expects %s: %s is %s, the spec's %s is %s"
                                  % (describe(k, name, m), expected(group), attr, list(t.shape), w["name"], list(w["shape"])))
            out.append((w["name"], t))
        wanted = {w["name"][len(module) + 1:] for w in ws}
        if kind != "BatchNorm2d" and m.bias is not None and "bias" not in wanted:
            raise ExportError("%s, the spec expects %s without a bias (block bias = false?)"
                              % (describe(k, name, m), expected(group)))
    if len(calls) != len(groups):
        more = ("the first extra is module #%d, %s" % (len(groups) + 1, module_text(*calls[len(groups)]))
                if len(calls) > len(groups) else "the first one missing is " + expected(groups[len(calls)]))
        raise ExportError("the model runs %d Conv2d/ConvTranspose2d/BatchNorm2d modules, the spec expects %d; %s"
                          % (len(calls), len(groups), more))
    return out


# ---- safetensors ------------------------------------------------------------------------------

def write_safetensors(path, named_tensors, metadata):
    """F32 little-endian tensors in the given order; header padded to 8 bytes as safetensors does."""
    header, blobs, offset = {}, [], 0
    for name, t in named_tensors:
        data = t.detach().to("cpu").float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def parse_size(text):
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
        return c, h, w
    except ValueError:
        raise ExportError("cannot use --input-size %r: write it as CxHxW, e.g. 3x256x256" % text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", required=True, help="the .unet spec the weights are for")
    ap.add_argument("--module", required=True, help="Python file defining the model")
    ap.add_argument("--model", required=True, help="expression building the model in that file's namespace")
    ap.add_argument("--state-dict", help="checkpoint (state dict, or a dict holding one under 'state_dict')")
    ap.add_argument("--out", required=True, help="safetensors file to write")
    ap.add_argument("--unetgen", help="unetgen binary (default: $UNETGEN, PATH, ./build*/cli/unetgen)")
    ap.add_argument("--input-size", help="CxHxW of the forward pass that finds the module order")
    ap.add_argument("--randomize", type=int, metavar="SEED", help="random weights and BN statistics (for tests)")
    ap.add_argument("--weights-list", help=argparse.SUPPRESS)  # JSON of `check --json`, for tests
    args = ap.parse_args(argv)
    try:
        groups = group_by_module(spec_weights(args.spec, args.unetgen, args.weights_list))
        model = build_model(args.module, args.model)
        if args.state_dict:
            load_state_dict(model, args.state_dict)
        if args.randomize is not None:
            randomize_(model, args.randomize)
        first = groups[0][2][0]["shape"]
        in_channels = first[1] if groups[0][1] == "Conv2d" else first[0]
        size = parse_size(args.input_size) if args.input_size else None
        calls = modules_in_call_order(model, size, in_channels)
        tensors = map_tensors(calls, groups)
        write_safetensors(args.out, tensors, {"format": "pt", "spec": os.path.basename(args.spec), "model": args.model})
    except ExportError as e:
        print("export_pytorch: cannot export %s for %s: %s" % (args.model, args.spec, e), file=sys.stderr)
        return 1
    floats = sum(t.numel() for _, t in tensors)
    print("wrote %d tensors (%d floats) of %d modules to %s" % (len(tensors), floats, len(groups), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
