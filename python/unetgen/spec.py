"""The compiler's own reading of a .unet spec, as Python data.

    ir = unetgen.spec.load("examples/specs/small.unet")
    ir.layers        # [{name, op, inputs, in_channels, out_channels, kernel, padding, ...}] in execution order
    ir.weights       # [{name, shape, module, module_kind, layer}] in canonical order
    ir.source_line(ir.sections["up"])   # the spec text of the `up` section

There is one front end: this runs `unetgen check SPEC --json` and keeps what it prints, so the
parser, the validation and every default are the compiler's.
"""
import glob
import json
import os
import shutil
import subprocess


class SpecError(Exception):
    """A spec the compiler refuses, or no compiler to ask."""


def find_unetgen(explicit=None):
    """The unetgen binary: EXPLICIT, $UNETGEN, PATH, then build*/cli/unetgen under the cwd or this repository."""
    if explicit:
        return explicit
    if os.environ.get("UNETGEN"):
        return os.environ["UNETGEN"]
    on_path = shutil.which("unetgen")
    if on_path:
        return on_path
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for root in (os.getcwd(), repo):
        found = sorted(glob.glob(os.path.join(root, "build*", "cli", "unetgen")))
        if found:
            return found[0]
    raise SpecError("cannot find the unetgen binary: pass unetgen=PATH (--unetgen) or set $UNETGEN")


class SpecIR:
    """`unetgen check --json` of one spec, with lookups the PyTorch side needs."""

    def __init__(self, data, path=None):
        self.data = data
        self.path = path or data.get("file")
        self.name = data["name"]
        self.layers = data["layers"]
        self.weights = data["weights"]
        self.in_channels = data["in_channels"]
        self.classes = data["classes"]
        self.activation = data.get("activation", "none")
        self.sections = data.get("sections", {})
        self.verification_extents = data.get("verification_extents", [])
        self._lines = None

    def modules(self):
        """[(module name, module kind, [weight, ...])] in canonical (execution) order."""
        groups = []
        for w in self.weights:
            if groups and groups[-1][0] == w["module"]:
                groups[-1][2].append(w)
            else:
                groups.append((w["module"], w["module_kind"], [w]))
        return groups

    def source_line(self, line):
        """The text of spec line LINE (1-based), comment stripped; '' when unknown."""
        if not line or not self.path or not os.path.isfile(self.path):
            return ""
        if self._lines is None:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                self._lines = f.read().splitlines()
        if line > len(self._lines):
            return ""
        return self._lines[line - 1].split("#", 1)[0].strip()

    def where(self, section):
        """'FILE:LINE: `text`' of a section, or a hint to add it when the spec leaves it to its default."""
        line = self.sections.get(section)
        if line:
            return "%s:%d: `%s`" % (self.path, line, self.source_line(line))
        return "%s: no `%s` section (its defaults apply)" % (self.path, section)

    def verification_sizes(self):
        """Two non-square (H, W) inputs the network takes, odd sides where it allows them."""
        e = self.verification_extents
        if len(e) >= 4:
            return [(e[0], e[1]), (e[3], e[2])]
        if len(e) >= 2:
            return [(e[0], e[1]), (e[1], e[0])]
        if e:
            return [(e[0], e[0])]
        raise SpecError("cannot choose input sizes for %s: the network takes no extent up to 4096" % self.path)


def load(path, unetgen=None, size=None):
    """SpecIR of the spec file PATH (SpecError with the compiler's diagnostics if it is refused)."""
    exe = find_unetgen(unetgen)
    cmd = [exe, "check", path, "--json"]
    if size:
        cmd += ["--size", "x".join(str(v) for v in size)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise SpecError("cannot run %s: %s" % (exe, e))
    if proc.returncode != 0:
        raise SpecError("cannot read spec %s: `unetgen check` refused it:\n%s" % (path, (proc.stderr or proc.stdout).strip()))
    try:
        data = json.loads(proc.stdout)
    except ValueError as e:
        raise SpecError("cannot read spec %s: `%s check --json` printed no JSON (%s)" % (path, exe, e))
    return SpecIR(data, path)
