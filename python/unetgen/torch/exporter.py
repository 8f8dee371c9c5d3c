"""export(): a PyTorch module's weights as the safetensors file the runtime loads, verified against the spec.

    export(ir, model, "out.safetensors")   # ExportError, and no file, when the module is not the spec's network

Steps, each of which can refuse:
  1. map: one forward pass (traced) lists the module's Conv2d / ConvTranspose2d / BatchNorm2d / PReLU calls
     and those of its affine InstanceNorm2d / GroupNorm modules in execution order; the k-th must be the
     spec's k-th weight module, same kind and shapes (names in the model do not matter). Each module
     must run once per forward pass. Before that, each conv unit's norm (kind, affine, groups, eps,
     position) is compared with the spec's (unetgen.torch.verification.norm_difference), so that a
     norm the spec lacks, or lacks weights for, is named as such rather than as a shifted mapping; so is
     a PReLU the spec lacks (`block act = prelu`, `up norm = true`; verification.act_difference).
  2. constructs the language cannot express are named (unetgen.torch.verification.unsupported). Attention
     gates (unetgen.torch.gates) are the language's: where the module has them and the spec not (or the
     other way round), the refusal at the first differing module says so, with `skip gate`'s line; so
     are MONAI's residual units (unetgen.torch.residual, `block residual = monai`).
  3. verify: the spec-built module with these weights must compute what the module computes
     (unetgen.torch.verification.verify); the first layer where they part is named.
  4. the file is written (to a temporary name, then renamed, so a failure leaves nothing behind).
"""
import json
import os
import struct

import torch
import torch.nn as nn

from . import tracing as tr
from . import verification as vf
from .spec_module import SpecUNet

KIND_OF_OP = {"conv2d": "Conv2d", "conv_transpose2d": "ConvTranspose2d", "batch_norm": "BatchNorm2d",
              "instance_norm": "InstanceNorm2d", "group_norm": "GroupNorm", "prelu": "PReLU"}
WEIGHT_MODULES = (nn.Conv2d, nn.ConvTranspose2d, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
                  nn.GroupNorm, nn.PReLU)


class ExportError(Exception):
    pass


def module_text(name, m):
    kind = type(m).__name__
    if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)):
        return "%s '%s' with %d channels" % (kind, name, m.num_features)
    if isinstance(m, nn.GroupNorm):
        return "%s '%s' with %d channels in %d groups" % (kind, name, m.num_channels, m.num_groups)
    w = getattr(m, "weight", None)
    shape = list(w.shape) if isinstance(w, torch.Tensor) else "?"
    if isinstance(m, nn.PReLU):  # a slope, no bias to speak of
        return "%s '%s' with weight %s" % (kind, name, shape)
    return "%s '%s' with weight %s%s" % (kind, name, shape, "" if getattr(m, "bias", None) is not None else " and no bias")


def _expected(group):
    module, kind, ws = group
    return "%s %s" % (module, list(ws[0]["shape"]))


def trace_for_mapping(model, ir, size=None):
    """A trace of MODEL on a zero input the spec takes (or SIZE); other channels are tried for a module with
    another first conv, so that the mismatch is reported layer by layer rather than as a failed forward."""
    channels = [ir.in_channels]
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and first.in_channels != ir.in_channels:
        channels.append(first.in_channels)
    sizes = [size] if size else ir.verification_sizes() + [(s, s) for s in (64, 128, 256, 572)]
    model.eval()
    try:
        return tr.trace_first_that_runs(model, [(c, h, w) for c in channels for h, w in sizes])
    except ValueError as e:
        raise ExportError("cannot run the model's forward pass to find its layers; %s" % e)


def map_tensors(t, ir):
    """([(canonical name, tensor)], {module qualified name: canonical module}) or ExportError at the first disagreement."""
    groups = ir.modules()
    calls = [(op.weight_module_name, op.weight_module) for op in t.mapped]
    seen = {}
    for i, (n, m) in enumerate(calls):
        if id(m) in seen:
            raise ExportError("cannot map module '%s': forward() calls it twice (module #%d and #%d); the spec "
                              "gives every conv and norm its own weights" % (n, seen[id(m)] + 1, i + 1))
        seen[id(m)] = i
    out, canonical_of = [], {}
    for k, ((name, m), group, op) in enumerate(zip(calls, groups, t.mapped), 1):
        module, kind, ws = group
        said = "module #%d is %s" % (k, module_text(name, m))
        if KIND_OF_OP[op.kind] != kind or not isinstance(m, WEIGHT_MODULES):
            raise ExportError("%s, the spec expects %s %s" % (said, kind, _expected(group)))
        for w in ws:
            attr = w["name"][len(module) + 1:]
            value = getattr(m, attr, None)
            if value is None:
                raise ExportError("%s, the spec expects %s: the module has no %s" % (said, _expected(group), attr))
            if list(value.shape) != list(w["shape"]):
                if w is ws[0]:
                    raise ExportError("%s, the spec expects %s" % (said, _expected(group)))
                raise ExportError("%s, the spec expects %s: %s is %s, the spec's %s is %s"
                                  % (said, _expected(group), attr, list(value.shape), w["name"], list(w["shape"])))
            out.append((w["name"], value))
        wanted = {w["name"][len(module) + 1:] for w in ws}
        if kind in ("Conv2d", "ConvTranspose2d") and getattr(m, "bias", None) is not None and "bias" not in wanted:
            raise ExportError("%s, the spec expects %s without a bias (block bias = false?)" % (said, _expected(group)))
        canonical_of[name] = module
    if len(calls) != len(groups):
        more = ("the first extra is module #%d, %s" % (len(groups) + 1, module_text(*calls[len(groups)]))
                if len(calls) > len(groups) else "the first one missing is " + _expected(groups[len(calls)]))
        # the kinds counted: those of the base language, and the affine norms where either side has one
        kinds = ["Conv2d", "ConvTranspose2d", "BatchNorm2d"] + [
            k for k in ("InstanceNorm2d", "GroupNorm", "PReLU")
            if any(KIND_OF_OP[op.kind] == k for op in t.mapped) or any(g[1] == k for g in groups)]
        raise ExportError("the model runs %d %s modules, the spec expects %d; %s"
                          % (len(calls), "/".join(kinds), len(groups), more))
    return out, canonical_of


def spec_module_with(ir, tensors):
    """The spec-built module holding TENSORS (canonical names)."""
    net = SpecUNet(ir)
    own = net.state_dict()
    sd = {name: t.detach().to(own[name].dtype).clone() for name, t in tensors}
    for k, v in own.items():
        if k.endswith("num_batches_tracked"):
            sd[k] = v
    net.load_state_dict(sd, strict=True)
    return net.eval()


def check_module(ir, model, size=None):
    """Steps 1-3: ([(canonical name, tensor)], verification report) or ExportError naming every problem found."""
    t = trace_for_mapping(model, ir, size)
    problems = vf.unsupported(t, ir)
    # a norm or a PReLU one side has and the other not shifts the mapping: named before it
    norm = vf.norm_difference(t, ir) or vf.act_difference(t, ir)
    if norm:
        raise ExportError(_does_not_compute(ir, problems, norm))
    # so do gates' and residual units' convs: their difference follows the mapping's first one
    gates = "\n".join(d for d in (vf.gate_difference(t, ir), vf.residual_difference(t, ir)) if d)
    try:
        tensors, canonical_of = map_tensors(t, ir)
    except ExportError as e:
        if not gates and not problems:
            raise
        # the gates' (or residual units') convs shift the mapping: its first difference, then why; and what
        # the language cannot express, which may be why it shifts (a residual unit's shortcut conv)
        raise ExportError(_does_not_compute(ir, problems, "%s: %s" % (e, gates) if gates else str(e)))
    try:
        report = vf.verify(model, spec_module_with(ir, tensors), ir, canonical_of)
        first = None
    except vf.VerifyError as e:
        report, first = None, str(e)
    if first and gates:
        first += "\n" + gates
    if problems or first:
        raise ExportError(_does_not_compute(ir, problems, first))
    return tensors, report


def _does_not_compute(ir, problems, first):
    text = "the module does not compute what %s describes" % ir.path
    if problems:
        text += "; what the spec language cannot express:\n  - " + "\n  - ".join(problems)
    if first:
        text += "\nthe first difference: " + first
    return text


def write_safetensors(path, named_tensors, metadata):
    """F32 little-endian tensors in the given order, header padded to 8 bytes; written whole or not at all."""
    header, blobs, offset = {}, [], 0
    for name, t in named_tensors:
        data = t.detach().to("cpu").float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".partial"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_safetensors(path):
    """{name: float32 tensor} of an F32 safetensors file (what write_safetensors writes), in file order."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    out = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError("cannot read tensor %s of %s: dtype %s, this reader takes F32" % (name, path, e["dtype"]))
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


def export(ir, model, out, metadata=None, size=None):
    """Checks MODEL against the spec IR and writes its weights to OUT; returns (tensors, verification report)."""
    tensors, report = check_module(ir, model, size)
    write_safetensors(out, tensors, dict(metadata or {}, format="pt", spec=os.path.basename(ir.path or "")))
    return tensors, report
