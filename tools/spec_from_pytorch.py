#!/usr/bin/python3
"""spec_from_pytorch.py — write the .unet spec that describes a PyTorch U-Net, verified against it.

    spec_from_pytorch.py --module my_model.py --model 'MyUNet(3, 2)' [-o my.unet] [--name my_unet] [--unetgen PATH]

The module is traced on an input it accepts; its convs, norms (BatchNorm, InstanceNorm, GroupNorm:
`block norm`, affine, groups, eps, order), activations (ReLU, LeakyReLU, PReLU: `block act`), pools,
upsampling, skip concatenations, attention gates (`skip gate = attention`) and MONAI's residual units
(`block residual = monai`, with `down levels`, `decoder order`, `up norm`, `output head = none` as
MONAI's UNet has them) are read off the trace (unetgen.torch.spec_writer), and the spec written
from them is only kept when the network it describes computes what the module computes (the check
every export makes,
unetgen.torch.exporter.check_module, on random weights, BatchNorm statistics and norm parameters). Otherwise
the tool says what the language cannot express, or where the two first differ, and writes nothing.
Without -o the spec goes to standard output. Weights are not needed: export them afterwards with
tools/export_pytorch.py --spec my.unet.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

from unetgen import spec as spec_mod  # noqa: E402

import export_pytorch  # noqa: E402  (the same module loading as the exporter)
from export_pytorch import unetgen_torch  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", required=True, help="Python file defining the model")
    ap.add_argument("--model", required=True, help="expression building the model in that file's namespace")
    ap.add_argument("-o", "--out", help="the .unet file to write (default: standard output)")
    ap.add_argument("--name", help="network name (default: the file stem of -o, else the model's class)")
    ap.add_argument("--unetgen", help="unetgen binary (default: $UNETGEN, PATH, ./build*/cli/unetgen)")
    args = ap.parse_args(argv)
    try:
        namespace = export_pytorch.load_namespace(args.module)
        model = export_pytorch.build_model(namespace, args.model, args.module)
        name = args.name or (os.path.splitext(os.path.basename(args.out))[0] if args.out else None)
        comment = "Written by tools/spec_from_pytorch.py from %s in %s." % (args.model, os.path.basename(args.module))
        text, ir, report = unetgen_torch.spec_from_module(model, name=name, unetgen=args.unetgen, comment=comment, out=args.out)
    except (export_pytorch.CliError, spec_mod.SpecError, unetgen_torch.SpecWriteError) as e:
        print("spec_from_pytorch: cannot write a spec for %s: %s" % (args.model, e), file=sys.stderr)
        return 1
    if args.out:
        print("wrote %s: %d params, verified against %s on %s"
              % (args.out, ir.data["params"], args.model, unetgen_torch.report_text(ir, report)))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
