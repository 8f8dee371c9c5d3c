#!/usr/bin/python3
"""export_pytorch.py — a PyTorch U-Net's weights as the safetensors file unetgen's runtime loads, verified.

    export_pytorch.py --spec net.unet --module models.py --model 'UNet001(3, 1, bilinear=True)' \\
                      --state-dict ckpt.pt --out net.safetensors [--unetgen PATH] [--input-size CxHxW]
    export_pytorch.py --spec net.unet --module models.py --model 'MyUNet()' --random-weights SEED --out net.safetensors
    export_pytorch.py --spec net.unet --state-dict whole_model.pt --out net.safetensors   # a pickled module

The module's Conv2d / ConvTranspose2d / BatchNorm2d / PReLU calls, and those of its affine InstanceNorm2d /
GroupNorm modules, are matched, in execution order, to the spec's canonical weights, after each conv
unit's norm (kind, affine, groups, eps, before or after the activation) is checked against the spec's
`block norm`; then the module is *verified*: the network the spec describes
(unetgen.torch.from_spec), given these weights, must compute what the module computes on random
inputs at two sizes the spec takes. A module that differs (another activation, norm, downsampling,
upsampling mode, skip order, an extra add, ...) is refused with the first layer where they part and
what the module does there; constructs the spec language cannot express are named. Attention gates
(Oktay et al.: a sigmoid'ed one-channel conv, resized and multiplied with a skip) are the language's
`skip gate = attention`: a module with them is compared with such a spec like any other, and refused
against a spec without them with that setting named. So are MONAI's residual units (a block's convs
summed with its shortcut: `block residual = monai`) and PReLUs (`block act = prelu`; after transposed
convs, `up norm = true`), so MONAI's UNet exports verified against its spec. A refused export writes
no file.

Checkpoints: a state dict, a whole pickled module, or a dict holding either under state_dict /
model_state_dict / model / net / network_weights / ... (Lightning, nnU-Net, training scripts), with
prefixes such as module. (DataParallel) dropped; the exporter says what it found. Without
--state-dict the export is refused unless --random-weights SEED asks for random weights (tests).

Runs with Debian's /usr/bin/python3 (torch 1.13); the package is python/unetgen in this repository.
"""
import argparse
import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

from unetgen import spec as spec_mod  # noqa: E402

try:
    import unetgen.torch as unetgen_torch
except ImportError as e:  # the PyTorch side needs Debian's python3-torch
    sys.exit("%s: cannot import PyTorch (%s): install python3-torch and run with /usr/bin/python3"
             % (os.path.basename(sys.argv[0]), e))


class CliError(Exception):
    pass


def load_namespace(module_file):
    """The namespace of MODULE_FILE, executed as a module (its folder importable, as for a script)."""
    path = os.path.abspath(module_file)
    if not os.path.isfile(path):
        raise CliError("cannot load module file %s: no such file" % module_file)
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, mod)
    try:
        spec.loader.exec_module(mod)
    except Exception as e:
        raise CliError("cannot load module file %s: %s: %s" % (module_file, type(e).__name__, e))
    return vars(mod)


def build_model(namespace, expr, module_file):
    try:
        return eval(expr, namespace)
    except Exception as e:
        raise CliError("cannot build the model %r from %s: %s: %s" % (expr, module_file, type(e).__name__, e))


def parse_size(text):
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
        return h, w
    except ValueError:
        raise CliError("cannot use --input-size %r: write it as CxHxW, e.g. 3x256x256" % text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", required=True, help="the .unet spec the weights are for")
    ap.add_argument("--module", help="Python file defining the model (its classes, for a pickled module too)")
    ap.add_argument("--model", help="expression building the model in that file's namespace")
    ap.add_argument("--state-dict", help="checkpoint: state dict, whole module, or a dict holding one")
    ap.add_argument("--random-weights", "--randomize", type=int, metavar="SEED", dest="random_weights",
                    help="random weights, BN statistics and norm parameters instead of a checkpoint (for tests)")
    ap.add_argument("--out", required=True, help="safetensors file to write")
    ap.add_argument("--unetgen", help="unetgen binary (default: $UNETGEN, PATH, ./build*/cli/unetgen)")
    ap.add_argument("--input-size", help="CxHxW of the forward pass that finds the module order")
    args = ap.parse_args(argv)
    what = args.model or args.state_dict or "?"
    try:
        if args.state_dict is None and args.random_weights is None:
            raise CliError("cannot export without weights: pass --state-dict CHECKPOINT (or --random-weights SEED "
                           "for random ones); exporting the model's initial weights would give an untrained network")
        if args.state_dict is not None and args.random_weights is not None:
            raise CliError("cannot use --state-dict and --random-weights together: choose one source of weights")
        ir = spec_mod.load(args.spec, args.unetgen)
        namespace = load_namespace(args.module) if args.module else None
        found = None
        if args.model:
            if namespace is None:
                raise CliError("cannot build --model %r without --module FILE defining it" % args.model)
            model = build_model(namespace, args.model, args.module)
            if args.state_dict:
                found = unetgen_torch.load_checkpoint(model, args.state_dict, namespace)
        else:
            if not args.state_dict:
                raise CliError("cannot export without a model: pass --module FILE --model EXPR, or a --state-dict "
                               "holding a whole pickled module")
            model = unetgen_torch.checkpoint.model_from(args.state_dict, namespace)
            if model is None:
                raise CliError("cannot export %s alone: it holds weights only; pass --module FILE --model EXPR to "
                               "build the model they belong to" % args.state_dict)
            found = "a whole pickled %s module" % type(model).__name__
        if args.random_weights is not None:
            unetgen_torch.randomize_(model, args.random_weights)
        if found:
            print("checkpoint %s: %s" % (args.state_dict, found))
        size = parse_size(args.input_size) if args.input_size else None
        tensors, report = unetgen_torch.export(ir, model, args.out, {"model": what}, size)
    except (CliError, spec_mod.SpecError, unetgen_torch.CheckpointError, unetgen_torch.ExportError) as e:
        print("export_pytorch: cannot export %s for %s: %s" % (what, args.spec, e), file=sys.stderr)
        return 1
    print("verified: the module computes the spec's network on " + unetgen_torch.report_text(ir, report))
    floats = sum(t.numel() for _, t in tensors)
    print("wrote %d tensors (%d floats) of %d modules to %s" % (len(tensors), floats, len(ir.modules()), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
