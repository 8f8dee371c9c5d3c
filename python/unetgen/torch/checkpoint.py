"""load_checkpoint(): weights as people save them, into the model they belong to.

Accepted, and reported as found:
  - a plain state dict                                   torch.save(model.state_dict(), f)
  - a whole pickled module                               torch.save(model, f)
  - a dict holding the state dict under a common key     state_dict (PyTorch Lightning), model_state_dict,
                                                         model, net, network, network_weights (nnU-Net), ...
  - keys with a prefix to drop                           module. (DataParallel), _orig_mod. (torch.compile),
                                                         model. / net. (a LightningModule's attribute), ...
A whole module pickled from a script refers to its classes as __main__.X; they are looked up in the
namespace of the module file the user named, so such checkpoints load too.
"""
import pickle

import torch
import torch.nn as nn

# Keys under which training scripts and frameworks keep the model's state dict, most specific first.
STATE_KEYS = ("state_dict", "model_state_dict", "model_state", "network_weights", "state_dict_ema", "model",
              "net", "network", "weights", "module")


class CheckpointError(Exception):
    pass


def _unpickler_with(namespace):
    """A pickle Unpickler that falls back to NAMESPACE for classes it cannot import."""
    class Unpickler(_PICKLE_UNPICKLER):
        def find_class(self, module, name):
            try:
                return super().find_class(module, name)
            except (AttributeError, ModuleNotFoundError, ImportError):
                if namespace is not None and name in namespace:
                    return namespace[name]
                raise
    return Unpickler


_PICKLE_UNPICKLER = pickle.Unpickler


def read(path, namespace=None):
    """torch.load of PATH on the CPU, classes found in NAMESPACE if pickled elsewhere (e.g. in __main__)."""
    # torch.load's pickle_module argument is not honoured by Debian's torch 1.13 (it resets it to
    # pickle unless weights_only), but it builds its unpickler from pickle.Unpickler at call time.
    pickle.Unpickler = _unpickler_with(namespace)
    try:
        return torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise CheckpointError("cannot read checkpoint %s: no such file" % path)
    except Exception as e:
        raise CheckpointError("cannot read checkpoint %s: torch.load failed: %s: %s" % (path, type(e).__name__, e))
    finally:
        pickle.Unpickler = _PICKLE_UNPICKLER


def _is_state_dict(d):
    return isinstance(d, dict) and d and all(isinstance(k, str) for k in d) and \
        all(isinstance(v, torch.Tensor) for v in d.values())


def find_state_dict(obj, path):
    """(state dict, how it was found) inside what torch.load returned."""
    if isinstance(obj, nn.Module):
        return obj.state_dict(), "a whole pickled %s module" % type(obj).__name__
    if _is_state_dict(obj):
        return obj, "a plain state dict"
    if isinstance(obj, dict):
        for key in STATE_KEYS:
            inner = obj.get(key)
            if isinstance(inner, nn.Module):
                return inner.state_dict(), "a dict with a whole %s module under '%s'" % (type(inner).__name__, key)
            if _is_state_dict(inner):
                return inner, "a dict with the state dict under '%s'" % key
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if len(tensors) > len(obj) // 2 and tensors:
            return tensors, "a state dict mixed with %d other entries (ignored)" % (len(obj) - len(tensors))
        raise CheckpointError("cannot find a state dict in checkpoint %s: it is a dict with keys %s; expected "
                              "tensors, or a state dict under one of %s"
                              % (path, sorted(map(str, obj))[:12], ", ".join(STATE_KEYS)))
    raise CheckpointError("cannot find a state dict in checkpoint %s: it holds a %s" % (path, type(obj).__name__))


def strip_prefix(sd, wanted):
    """(state dict keyed like WANTED, the prefix dropped or ''). Tries no prefix, then every prefix of the keys."""
    wanted = set(wanted)
    if set(sd) >= wanted:
        return sd, ""
    candidates = set()
    for k in sd:
        parts = k.split(".")
        for i in range(1, len(parts)):
            candidates.add(".".join(parts[:i]) + ".")
    for p in sorted(candidates, key=len):
        stripped = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
        if set(stripped) >= wanted:
            return stripped, p
    return sd, None


def load_into(model, path, namespace=None):
    """Loads checkpoint PATH into MODEL; returns a sentence saying what was found.

    Missing BatchNorm num_batches_tracked counters are taken from the model (they do not change eval output)."""
    sd, how = find_state_dict(read(path, namespace), path)
    own = model.state_dict()
    needed = [k for k in own if not k.endswith("num_batches_tracked")]
    sd2, prefix = strip_prefix(sd, needed)
    if prefix is None:
        missing = sorted(set(needed) - set(sd))
        extra = sorted(set(sd) - set(own))
        raise CheckpointError("cannot load checkpoint %s (%s) into %s: %d of its tensors are missing, e.g. %s; "
                              "the checkpoint has %s" % (path, how, type(model).__name__, len(missing),
                                                         missing[:3], extra[:3] or "no others"))
    extra = sorted(k for k in set(sd2) - set(own) if not k.endswith("num_batches_tracked"))
    if extra:
        raise CheckpointError("cannot load checkpoint %s (%s) into %s: it has %d tensors the model does not, e.g. %s"
                              % (path, how, type(model).__name__, len(extra), extra[:3]))
    sd2 = {k: v for k, v in sd2.items() if k in own}
    for k in own:
        if k.endswith("num_batches_tracked") and k not in sd2:
            sd2[k] = own[k]
    try:
        model.load_state_dict(sd2, strict=True)
    except RuntimeError as e:
        raise CheckpointError("cannot load checkpoint %s (%s) into %s: %s" % (path, how, type(model).__name__, e))
    if prefix:
        how += ", keys prefixed '%s' (dropped)" % prefix
    return how


def model_from(path, namespace=None):
    """The module pickled whole in checkpoint PATH, or None if it holds weights only."""
    obj = read(path, namespace)
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict):
        for key in STATE_KEYS:
            if isinstance(obj.get(key), nn.Module):
                return obj[key]
    return None


def randomize_(model, seed):
    """Random conv weights, BatchNorm parameters *and* running statistics, InstanceNorm / GroupNorm affine
    parameters and PReLU slopes, in place.

    Scales keep activations O(1) through a deep U-Net so that parity tests compare meaningful
    numbers, and the norms are far from the identity (so that their position and affine-ness show):
    weights ~ N(0, 2/fan_in) (He), BN gamma in [0.5, 1.5], beta and running_mean in [-0.3, 0.3],
    running_var in [0.5, 2]. An InstanceNorm or GroupNorm output has mean 0 and variance 1 per
    channel (group) whatever comes in, so only its own gamma and beta can move it from that: gamma is
    +-[1.5, 2.5] and beta +-[0.3, 0.8] (random signs), which no fresh (1, 0) pair is near. PReLU slopes
    are uniform in [0.1, 0.6], away from the 0.25 every fresh one has (a ReLU or LeakyReLU of one slope,
    or two PReLUs swapped, would then compute the same)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight
                fan_in = w.shape[1] * w.shape[2] * w.shape[3] if isinstance(m, nn.Conv2d) else w.shape[0]
                w.copy_(torch.randn(w.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) - 0.5) * 0.2)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                if m.weight is not None:
                    m.weight.copy_(0.5 + torch.rand(c, generator=g))
                    m.bias.copy_((torch.rand(c, generator=g) - 0.5) * 0.6)
                m.running_mean.copy_((torch.rand(c, generator=g) - 0.5) * 0.6)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.1 + 0.5 * torch.rand(m.weight.shape, generator=g))
            elif isinstance(m, (nn.modules.instancenorm._InstanceNorm, nn.GroupNorm)) and m.weight is not None:
                c = m.weight.shape[0]
                sign = lambda: torch.randint(0, 2, (c,), generator=g) * 2.0 - 1.0  # noqa: E731
                m.weight.copy_((1.5 + torch.rand(c, generator=g)) * sign())
                m.bias.copy_((0.3 + 0.5 * torch.rand(c, generator=g)) * sign())
