#!/usr/bin/python3
"""Short-budget Network Slimming recipes, measured in PyTorch as a fast stand-in for netslim.

The demo network (VGG-11 at 1/8 width, 1 input channel, 10 classes: cfg
[8, M, 16, M, 32, 32, M, 64, 64, M, 64, 64], 145 410 params, 4.87 MFLOPs at 32×32) is trained
from scratch on the full Fashion-MNIST (28×28 zero-padded to 32×32, normalised by 0.286 / 0.353,
pad-4 random crop + horizontal flip), with sparse training (s·sign(γ) added to every BN γ
gradient), a global |γ| threshold prune (by percent, as the reference, or to a FLOPs / params
target, as netslim's slim.prune), compaction and fine-tuning. Each lever of the recipe is a flag;
each run prints one JSON line with every number (and appends it to --out).

Semantics follow DESIGN.md §1: reference init (conv N(0, sqrt(2/(9·out))), BN γ 0.5 β 0, linear
N(0, 0.01) zero bias), SGD momentum 0.9 wd 1e-4 on every parameter, batch 64, the reference
step schedule (×0.1 at the epochs equal to 0.5·E and 0.75·E), strict threshold (keep |γ| > thre),
at least one channel per layer, FLOPs = 2·MACs of convs and the linear layer.

Runs on CPU: /usr/bin/python3 (torch 1.13), one thread.
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.286, 0.353
CL = torch.channels_last  # 3x faster on one CPU thread than NCHW for these widths
CFG = [8, 'M', 16, 'M', 32, 32, 'M', 64, 64, 'M', 64, 64]


# ---------------------------------------------------------------------------------------------
# Data

def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('>I', data[:4])[0]
    nd = magic & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_fashion(root):
    cache = '/tmp/netslim-fmnist-32.pt'
    if os.path.exists(cache):
        return torch.load(cache)
    out = {}
    for split, pre in (('train', 'train'), ('test', 't10k')):
        x = read_idx(os.path.join(root, f'{pre}-images-idx3-ubyte.gz'))
        y = read_idx(os.path.join(root, f'{pre}-labels-idx1-ubyte.gz'))
        xp = np.zeros((x.shape[0], 32, 32), dtype=np.uint8)
        xp[:, 2:30, 2:30] = x  # centred, 2 pixels each side (netslim's parseIdx padTo 32)
        out[split] = (torch.from_numpy(xp), torch.from_numpy(y.astype(np.int64)))
    torch.save(out, cache)
    return out


def normalise(u8):
    return (u8.float() / 255.0 - MEAN) / STD


class Augmenter:
    """Pad 4 (zeros in pixel space) → random 32×32 crop → random horizontal flip → normalise."""

    def __init__(self, x_u8, gen):
        self.p = F.pad(x_u8, (4, 4, 4, 4))  # [N, 40, 40] uint8
        self.gen = gen
        self.ar = torch.arange(32)

    def batch(self, idx, mode='full'):
        """mode 'full': crop and flip; 'flip': flip only (the centre crop); 'none': the centre crop."""
        b = idx.numel()
        if mode != 'full':
            x = self.p[idx][:, 4:36, 4:36]
            if mode == 'flip':
                flip = torch.rand(b, generator=self.gen) < 0.5
                x = torch.where(flip[:, None, None], x.flip(2), x)
            return normalise(x).unsqueeze(1).contiguous(memory_format=CL)
        ox = torch.randint(0, 9, (b,), generator=self.gen)
        oy = torch.randint(0, 9, (b,), generator=self.gen)
        flip = torch.rand(b, generator=self.gen) < 0.5
        rows = oy[:, None] + self.ar[None, :]
        cols = torch.where(flip[:, None], ox[:, None] + 31 - self.ar[None, :], ox[:, None] + self.ar[None, :])
        x = self.p[idx[:, None, None], rows[:, :, None], cols[:, None, :]]
        return normalise(x).unsqueeze(1).contiguous(memory_format=CL)


# ---------------------------------------------------------------------------------------------
# Model (the reference vgg, functional AvgPool2d(2))

class VGG(nn.Module):
    def __init__(self, cfg, in_ch=1, classes=10):
        super().__init__()
        self.cfg = list(cfg)
        layers = []
        c = in_ch
        for v in cfg:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                c = v
        self.feature = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(0.5)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()

    def forward(self, x):
        x = self.feature(x)
        x = F.avg_pool2d(x, 2)
        return self.classifier(x.flatten(1))


def costs(cfg, in_ch=1, size=32, classes=10):
    """(params, FLOPs) as netslim's slim.layerCosts counts them."""
    params = macs = 0
    c, h = in_ch, size
    for v in cfg:
        if v == 'M':
            h //= 2
        else:
            params += c * v * 9 + 2 * v
            macs += v * h * h * c * 9
            c = v
    params += c * classes + classes
    macs += c * classes
    return params, 2 * macs


def bns(model):
    return [m for m in model.feature if isinstance(m, nn.BatchNorm2d)]


# ---------------------------------------------------------------------------------------------
# Training

def evaluate(model, x, y, bs=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], bs):
            correct += (model(x[i:i + bs].contiguous(memory_format=CL)).argmax(1) == y[i:i + bs]).sum().item()
    return correct / x.shape[0]


def lr_at(base, sched, epoch, it, epochs, iters, warm=0):
    """lr of iteration `it` of epoch `epoch` (of `epochs`, `iters` per epoch)."""
    if sched == 'step':  # the reference: ×0.1 at the start of the epochs equal to 0.5·E and 0.75·E
        lr = base
        for e in range(1, epoch + 1):
            if e == epochs * 0.5 or e == epochs * 0.75:
                lr *= 0.1
        return lr
    if sched == 'const':
        return base
    if sched == 'cosine':  # per iteration, to 0 at the end of the phase
        t = (epoch * iters + it) / (epochs * iters)
        return base * 0.5 * (1 + math.cos(math.pi * t))
    if sched == 'linear':
        t = (epoch * iters + it) / (epochs * iters)
        return base * (1 - t)
    raise ValueError(sched)


def s_at(spec, epoch):
    """Sparsity rate of an epoch: a number, or 'e0:s0,e1:s1,...' (piecewise constant from e_i)."""
    if ':' not in spec:
        return float(spec)
    s = 0.0
    for part in spec.split(','):
        e, v = part.split(':')
        if epoch >= int(e):
            s = float(v)
    return s


def train_phase(model, data, aug, gen, epochs, lr, sched, wd, momentum, bs, s_spec=None, teacher=None,
                kd_alpha=0.0, kd_t=4.0, on_epoch=None, masks=None, log=None, aug_mode='full'):
    xtr, ytr, xte, yte = data
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    n = xtr.shape[0]
    iters = math.ceil(n / bs)
    hist = []
    for ep in range(epochs):
        model.train()
        s = (s_spec['s'] if isinstance(s_spec, dict) else s_at(s_spec, ep)) if s_spec is not None else 0.0
        perm = torch.randperm(n, generator=gen)
        tl = 0.0
        t0 = time.time()
        for it in range(iters):
            for g in opt.param_groups:
                g['lr'] = lr_at(lr, sched, ep, it, epochs, iters)
            idx = perm[it * bs:(it + 1) * bs]
            x = aug.batch(idx, aug_mode)
            y = ytr[idx]
            out = model(x)
            loss = F.cross_entropy(out, y)
            if teacher is not None and kd_alpha > 0:
                with torch.no_grad():
                    tout = teacher(x)
                kd = F.kl_div(F.log_softmax(out / kd_t, 1), F.softmax(tout / kd_t, 1), reduction='batchmean') * kd_t * kd_t
                loss = kd_alpha * kd + (1 - kd_alpha) * loss
            opt.zero_grad(set_to_none=False)
            loss.backward()
            if s > 0:
                cc = channel_costs() if S_COST else None
                for i, m in enumerate(bns(model)):
                    m.weight.grad.add_(s * (cc[i] ** S_COST if cc else 1.0) * torch.sign(m.weight.data))
            opt.step()
            if masks is not None:
                with torch.no_grad():
                    for m, k in zip(bns(model), masks):
                        m.weight.mul_(k)
                        m.bias.mul_(k)
            tl += loss.item()
        acc = evaluate(model, xte, yte)
        rec = {'epoch': ep, 'lr_end': lr_at(lr, sched, ep, iters - 1, epochs, iters), 's': s, 'loss': round(tl / iters, 4),
               'test': acc, 'sec': round(time.time() - t0, 1)}
        hist.append(rec)
        if log:
            log(rec)
        if on_epoch:
            r = on_epoch(model, ep)
            if r is not None:
                masks = r
    return hist, masks


# ---------------------------------------------------------------------------------------------
# Pruning

def gammas(model):
    return torch.cat([m.weight.data.abs().clone() for m in bns(model)])


RANK_ALPHA = 0.0  # set from --rank-alpha
S_COST = 0.0  # set from --s-cost


def channel_costs(cfg=None, in_ch=1, size=32, classes=10):
    """Per BN layer: the MACs one of its channels costs in the unpruned network (its own output
    map, plus its input slice of the next conv or of the classifier), divided by the mean over
    all channels."""
    cfg = cfg or CFG
    convs, c, h = [], in_ch, size
    for v in cfg:
        if v == 'M':
            h //= 2
        else:
            convs.append((c, v, h))
            c = v
    per = []
    for i, (cin, cout, hh) in enumerate(convs):
        own = hh * hh * 9 * cin
        nxt = convs[i + 1][1] * convs[i + 1][2] ** 2 * 9 if i + 1 < len(convs) else classes
        per.append(own + nxt)
    n = sum(v for _, v, _ in convs)
    mean = sum(p * v for p, (_, v, _) in zip(per, convs)) / n
    return [p / mean for p in per]


def layer_scores(model):
    """The ranking score of each channel, per BN: |γ|, or with --rank-alpha a > 0 |γ| / cost^a
    (cost: channel_costs), which spends a FLOPs budget on the cheap channels."""
    out = []
    cc = channel_costs() if RANK_ALPHA else None
    for i, m in enumerate(bns(model)):
        g = m.weight.data.abs().clone()
        out.append(g / cc[i] ** RANK_ALPHA if cc else g)
    return out


def scores(model):
    return torch.cat(layer_scores(model))


def masks_at(model, thre, min_ch=1):
    out = []
    for g in layer_scores(model):
        k = (g > thre).float()
        if k.sum() < min_ch:
            k = torch.zeros_like(g)
            k[g.argsort(descending=True)[:min_ch]] = 1
        out.append(k)
    return out


def cfg_of(masks):
    cfg, i = [], 0
    for v in CFG:
        if v == 'M':
            cfg.append('M')
        else:
            cfg.append(int(masks[i].sum().item()))
            i += 1
    return cfg


def choose_threshold(model, mode, percent, flops_t, params_t):
    """The global |γ| threshold (strict: keep |γ| > thre): at `percent` of the sorted |γ| (the
    reference), or the smallest rank whose compact model leaves ≤ flops_t of the FLOPs and
    ≤ params_t of the parameters (netslim's target search, both limits)."""
    g = scores(model)
    srt, _ = torch.sort(g)
    total = g.numel()
    if mode == 'percent':
        k = int(math.floor(total * percent))
        return srt[k].item(), k / total
    p0, f0 = costs(CFG)
    for k in range(total):
        thre = srt[k].item()
        p, f = costs(cfg_of(masks_at(model, thre)))
        if f / f0 <= flops_t and p / p0 <= params_t:
            return thre, (k + 0.5) / total
    raise RuntimeError('target cannot be met')


def compact(model, masks, compensate=False, size=32):
    """The compact model: gathers by the BN masks; with `compensate`, each removed channel's
    constant output relu(β) is folded into the next BN's running_mean (through the next conv's
    weight sums) or into the classifier's bias. compensate='full': the whole kernel's sum, as
    netslim's slim.prune (exact away from the zero padding); 'mean': the conv of the constant map
    at its real size, zero padding included, averaged over the output positions (at the 2×2 and
    4×4 maps of this network most taps fall on padding)."""
    new = VGG(cfg_of(masks)).to(memory_format=CL)
    old_layers = [m for m in model.feature]
    new_layers = [m for m in new.feature]
    bi = 0
    prev = torch.ones(1)
    pending = None  # (constant per removed input channel, mask) to fold into the next consumer
    h = size
    for j, (o, n) in enumerate(zip(old_layers, new_layers)):
        if isinstance(o, nn.MaxPool2d):
            h //= 2
        if isinstance(o, nn.Conv2d):
            mask = masks[bi]
            keep_in = prev.nonzero().flatten()
            keep_out = mask.nonzero().flatten()
            w = o.weight.data
            n.weight.data = w[keep_out][:, keep_in].contiguous(memory_format=CL)
            conv_w, conv_mask = w, mask
        elif isinstance(o, nn.BatchNorm2d):
            keep = masks[bi].nonzero().flatten()
            for name in ('weight', 'bias', 'running_mean', 'running_var'):
                getattr(n, name).data = getattr(o, name).data[keep].clone()
            if compensate and pending is not None:
                const = pending  # [C_in] constants on the removed inputs of this BN's conv (0 on kept)
                if compensate == 'mean':
                    cmap = const.view(1, -1, 1, 1).expand(1, const.numel(), h, h).contiguous()
                    shift = F.conv2d(cmap, conv_w.contiguous(), padding=1).mean(dim=(0, 2, 3))
                else:
                    shift = (conv_w.sum(dim=(2, 3)) * const[None, :]).sum(1)  # [C_out]
                n.running_mean.data -= shift[keep]
            pending = None
            if compensate:
                removed = 1 - masks[bi]
                pending = F.relu(o.bias.data) * removed
            prev = masks[bi]
            bi += 1
    keep = prev.nonzero().flatten()
    new.classifier.weight.data = model.classifier.weight.data[:, keep].clone()
    new.classifier.bias.data = model.classifier.bias.data.clone()
    if compensate and pending is not None:
        new.classifier.bias.data += model.classifier.weight.data @ pending
    return new


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lever', default='', help='what this run varies (recorded)')
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--sparse-epochs', type=int, default=8)
    ap.add_argument('--ft-epochs', type=int, default=4)
    ap.add_argument('--s', default='1e-2', help="sparsity rate, or per-epoch 'e:s,e:s' (e.g. '0:0,2:1e-3,4:1e-2')")
    ap.add_argument('--s-adapt', type=float, default=0.0,
                    help='adaptive s: from the epoch --s-adapt-from on, at the end of each epoch, while the target would remove '
                         'channels whose |γ| exceed this fraction of the median kept |γ|, s ×= 2 (starts at --s, which must be a number)')
    ap.add_argument('--s-adapt-from', type=int, default=2)
    ap.add_argument('--s-max', type=float, default=1e-2)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--sched', default='step', choices=['step', 'cosine', 'const', 'linear'])
    ap.add_argument('--ft-lr', type=float, default=0.01)
    ap.add_argument('--ft-sched', default='step', choices=['step', 'cosine', 'const', 'linear'])
    ap.add_argument('--prune', default='flops', choices=['percent', 'flops'])
    ap.add_argument('--percent', type=float, default=0.5)
    ap.add_argument('--flops', type=float, default=0.28, help='FLOPs fraction to leave (with --prune flops)')
    ap.add_argument('--params', type=float, default=0.24, help='params fraction to leave (with --prune flops)')
    ap.add_argument('--compensate', default='', choices=['', 'full', 'mean'], help="fine-tune the model whose removed channels' relu(β) was folded into the next layer (see compact)")
    ap.add_argument('--kd-alpha', type=float, default=0.0, help='weight of the distillation loss during fine-tuning')
    ap.add_argument('--kd-t', type=float, default=4.0)
    ap.add_argument('--gradual', type=int, default=0, help='prune gradually: mask (γ = β = 0, kept there) a growing share of the target at the end of N sparse epochs, the whole target one epoch before the end')
    ap.add_argument('--rank-alpha', type=float, default=0.0,
                    help='rank channels by |γ| / cost^a (cost: the FLOPs one channel costs, relative to the mean) instead of |γ|')
    ap.add_argument('--s-cost', type=float, default=0.0,
                    help='scale the sparsity rate of each BN by cost^a (cost: channel_costs), a FLOPs-weighted L1 penalty')
    ap.add_argument('--s-off-masked', action='store_true', help='with --gradual: s = 0 in the last sparse epoch (the one that trains the fully masked network)')
    ap.add_argument('--ft-aug', default='full', choices=['full', 'flip', 'none'], help='augmentation while fine-tuning: crop + flip, flip only, none')
    ap.add_argument('--save-sparse', default='', help='save the sparse model (to fine-tune it again with --load-sparse)')
    ap.add_argument('--load-sparse', default='', help='skip sparse training: load this sparse model (same sparse flags)')
    ap.add_argument('--wd', type=float, default=1e-4)
    ap.add_argument('--momentum', type=float, default=0.9)
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--train-limit', type=int, default=0, help='use only this many training images (smoke tests)')
    ap.add_argument('--out', default='bench/results/recipe-torch.jsonl')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()

    global RANK_ALPHA
    RANK_ALPHA = a.rank_alpha
    global S_COST
    S_COST = a.s_cost
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    t_start = time.time()
    d = load_fashion(a.data)
    xtr_u8, ytr = d['train']
    if a.train_limit:
        xtr_u8, ytr = xtr_u8[:a.train_limit], ytr[:a.train_limit]
    xte, yte = normalise(d['test'][0]).unsqueeze(1), d['test'][1]
    data = (xtr_u8, ytr, xte, yte)
    aug = Augmenter(xtr_u8, gen)
    model = VGG(CFG).to(memory_format=CL)
    p0, f0 = costs(CFG)
    assert p0 == sum(p.numel() for p in model.parameters()) == 145410, p0
    log = lambda r: print(json.dumps(r), file=sys.stderr, flush=True)

    # Gradual pruning: at the end of each of the last `gradual` sparse epochs, mask (γ = β = 0,
    # kept there) the channels of a growing share of the final target's threshold rank.
    on_epoch = None
    grad_info = []  # what gradual pruning and adaptive s did, per epoch
    if a.gradual:
        def on_epoch(m, ep):
            left = a.sparse_epochs - 1 - ep  # epochs still to come
            if left > a.gradual or left < 1:
                return None
            step = a.gradual - left + 1  # 1..gradual; the whole target at the end of the next-to-last epoch
            thre, frac = choose_threshold(m, a.prune, a.percent, a.flops, a.params)
            g = scores(m)
            srt, _ = torch.sort(g)
            k = int(math.floor(frac * g.numel() * step / a.gradual))
            t = srt[min(k, g.numel() - 1)].item() if step < a.gradual else thre
            mk = masks_at(m, t)
            with torch.no_grad():
                for b, k_ in zip(bns(m), mk):
                    b.weight.mul_(k_)
                    b.bias.mul_(k_)
            grad_info.append({'epoch': ep, 'thre': t, 'cfg': cfg_of(mk), 'test_masked': evaluate(m, xte, yte)})
            return mk

    s_spec = a.s
    if a.s_off_masked:
        # s = 0 for the sparse epochs that train the fully masked network
        s_spec = {'s': float(a.s)}
        inner0 = on_epoch

        def on_epoch(m, ep):
            r = inner0(m, ep) if inner0 else None
            if a.sparse_epochs - 1 - ep == 1:
                s_spec['s'] = 0.0
            return r
    if a.s_adapt:
        s_spec = {'s': float(a.s)}
        inner = on_epoch

        def on_epoch(m, ep):
            if ep + 1 >= a.s_adapt_from:
                thre, _ = choose_threshold(m, a.prune, a.percent, a.flops, a.params)
                g = scores(m)
                sep = g[g <= thre].max().item() / max(g[g > thre].median().item(), 1e-12)
                grad_info.append({'epoch': ep, 's': s_spec['s'], 'separation': sep})
                if sep > a.s_adapt:
                    s_spec['s'] = min(s_spec['s'] * 2, a.s_max)
            return inner(m, ep) if inner else None

    if a.load_sparse:
        st = torch.load(a.load_sparse)
        model.load_state_dict(st['model'])
        hist = st['hist']
        torch.set_rng_state(st['rng'])
        gen.set_state(st['gen'])
        grad_info = st['gradual']
    else:
        hist, _ = train_phase(model, data, aug, gen, a.sparse_epochs, a.lr, a.sched, a.wd, a.momentum, a.batch_size,
                              s_spec=s_spec, on_epoch=on_epoch, log=log)
        if a.save_sparse:
            torch.save({'model': model.state_dict(), 'hist': hist, 'rng': torch.get_rng_state(), 'gen': gen.get_state(),
                        'gradual': grad_info}, a.save_sparse)
    acc_sparse = evaluate(model, xte, yte)
    t_sparse = time.time() - t_start

    thre, frac = choose_threshold(model, a.prune, a.percent, a.flops, a.params)
    masks = masks_at(model, thre)
    g = scores(model)
    kept_g = g[g > thre]
    removed_g = g[g <= thre]
    pruned = compact(model, masks, compensate=False)
    acc_pruned = evaluate(pruned, xte, yte)
    pruned_c = compact(model, masks, compensate='full')
    acc_pruned_comp = evaluate(pruned_c, xte, yte)
    pruned_m = compact(model, masks, compensate='mean')
    acc_pruned_comp_mean = evaluate(pruned_m, xte, yte)
    # What compensation reproduces: the unpruned model with the removed channels' γ set to 0 (β kept).
    zg = copy.deepcopy(model)
    with torch.no_grad():
        for b, k in zip(bns(zg), masks):
            b.weight.mul_(k)
    acc_gamma_zeroed = evaluate(zg, xte, yte)
    with torch.no_grad():
        zg.eval(), pruned_c.eval()
        xs = xte[:256].contiguous(memory_format=CL)
        comp_err = (zg(xs) - pruned_c(xs)).abs().max().item()
        comp_err_mean = (zg(xs) - pruned_m(xs)).abs().max().item()
    p1, f1 = costs(pruned.cfg)
    assert p1 == sum(p.numel() for p in pruned.parameters())

    teacher = None
    if a.kd_alpha > 0:
        teacher = copy.deepcopy(model).eval()
    ft = {'': pruned, 'full': pruned_c, 'mean': pruned_m}[a.compensate]
    ft_hist, _ = train_phase(ft, data, aug, gen, a.ft_epochs, a.ft_lr, a.ft_sched, a.wd, a.momentum, a.batch_size,
                             teacher=teacher, kd_alpha=a.kd_alpha, kd_t=a.kd_t, log=log, aug_mode=a.ft_aug)
    acc_ft = evaluate(ft, xte, yte)
    res = {
        'lever': a.lever,
        'args': {k: v for k, v in vars(a).items() if k not in ('out', 'data', 'lever')},
        'sparse_test': [h['test'] for h in hist],
        'ft_test': [h['test'] for h in ft_hist],
        'sparse_hist': hist, 'ft_hist': ft_hist,
        'acc_sparse': acc_sparse,
        'acc_pruned': acc_pruned,
        'acc_pruned_compensated': acc_pruned_comp,
        'acc_gamma_zeroed': acc_gamma_zeroed, 'compensation_max_logit_err': comp_err,
        'acc_pruned_compensated_mean': acc_pruned_comp_mean, 'compensation_mean_max_logit_err': comp_err_mean,
        'acc_pruned_used': {'': acc_pruned, 'full': acc_pruned_comp, 'mean': acc_pruned_comp_mean}[a.compensate],
        'acc_finetuned': acc_ft,
        'best_ft': max(h['test'] for h in ft_hist),
        'threshold': thre, 'prune_fraction_channels': frac,
        'gamma_removed_max': removed_g.max().item() if removed_g.numel() else None,
        'gamma_kept_min': kept_g.min().item() if kept_g.numel() else None,
        'gamma_kept_median': kept_g.median().item() if kept_g.numel() else None,
        'cfg': pruned.cfg,
        'params': p1, 'params_left': p1 / p0, 'flops': f1, 'flops_left': f1 / f0,
        'gradual': grad_info,
        'minutes_sparse': round(t_sparse / 60, 2),
        'minutes': round((time.time() - t_start) / 60, 2),
        'torch': torch.__version__, 'threads': a.threads,
    }
    line = json.dumps(res)
    print(line, flush=True)
    if a.out and not a.train_limit:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, 'a') as f:
            f.write(line + '\n')


if __name__ == '__main__':
    main()
