"""Claim `escape`: fused CPU kernels of the SGD, Langevin and Euler–Maruyama chains (numba).

The torch path (``paperclaims.sgd.run_chains``) advances all chains one step at a time as
tensors, so at d = 1 it is bound by per-step dispatch. Here one compiled loop runs over chains
(``prange``) × steps with θ in registers, doing the same update, the same first-passage
bookkeeping (first step with L > threshold, −1 until then) or stationary record (L / L* at the
sample steps) as train.py's torch kernels; the outputs have the same meaning and format.

Randomness: chain i draws from Philox4x32-10 (Salmon et al., SC 2011, counter-based) keyed by
the i-th child of the cell's SeedSequence (``chain_keys``). Its draws are numbered: minibatch
index j of step t (0-based) is 32-bit word t·B + j of the index stream, normal j of step t is
normal t·d + j of the normal stream (Box–Muller on two 53-bit uniforms per pair), so any draw is
a pure function of (cell seed, chain, step): results do not depend on threads, chunking or the
number of chains, and a checkpoint needs only θ, the step and the observer's arrays.

Indices are ⌊u n / 2³²⌋ of a 32-bit word u (relative bias ≤ n / 2³², as torch.randint's
modulo). Compiled code is cached (``cache=True``) in ``__pycache__`` beside this file, or numba's
user-wide cache where that is not writable (``NUMBA_CACHE_DIR`` overrides).
"""

from __future__ import annotations

import copy
import logging

import numpy as np
from numba import config as numba_config
from numba import get_num_threads, njit, prange, set_num_threads

from paperclaims.progress import Progress
from paperclaims.seeds import seed_sequence

log = logging.getLogger("paperclaims")

KERNEL_TAG = "escape-fused-philox4x32-v1"  # a checkpoint of another kernel is not resumed
SGD, LANGEVIN, EM_DECOUPLED, EM_EXACT = 0, 1, 2, 3
FIRST_PASSAGE, STATIONARY = 0, 1
_MASK = np.uint64(0xFFFFFFFF)


# ---------------------------------------------------------------- counter-based generator
@njit(cache=True)
def _mulhilo(a, b):
    p = np.uint64(a) * np.uint64(b)
    return p >> np.uint64(32), p & _MASK


@njit(cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1); words as uint64 < 2³²."""
    m0, m1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    w0, w1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
    c0, c1, c2, c3 = np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        hi0, lo0 = _mulhilo(m0, c0)
        hi1, lo1 = _mulhilo(m1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + w0) & _MASK
        k1 = (k1 + w1) & _MASK
    return c0, c1, c2, c3


@njit(cache=True)
def _block(n, stream, k0, k1):
    """Block ``n`` (4 words) of a chain's ``stream`` (0: indices, 1: normals)."""
    return philox4x32(np.uint64(n) & _MASK, np.uint64(n) >> np.uint64(32), 0, stream, k0, k1)


@njit(cache=True)
def _pick(r, lane):
    if lane == 0:
        return r[0]
    if lane == 1:
        return r[1]
    if lane == 2:
        return r[2]
    return r[3]


@njit(cache=True)
def _normal_pair(n, k0, k1):
    """Normals 2n, 2n + 1 of a chain: Box–Muller on two 53-bit uniforms, u₁ ∈ (0, 1)."""
    r = _block(n, 1, k0, k1)
    u1 = ((r[0] >> np.uint64(5)) * 67108864.0 + (r[1] >> np.uint64(6)) + 0.5) / 9007199254740992.0
    u2 = ((r[2] >> np.uint64(5)) * 67108864.0 + (r[3] >> np.uint64(6))) / 9007199254740992.0
    rad = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return rad * np.cos(angle), rad * np.sin(angle)


@njit(cache=True)
def normals(key, start, count):
    """Normals ``start`` … ``start + count − 1`` of the stream of a chain with ``key`` (tests)."""
    out = np.empty(count)
    for m in range(start, start + count):
        z = _normal_pair(m >> 1, key[0], key[1])
        out[m - start] = z[m & 1]
    return out


@njit(cache=True)
def indices(key, start, count, n):
    """Minibatch indices (words ``start`` … of the index stream) of a chain with ``key`` (tests)."""
    out = np.empty(count, dtype=np.int64)
    for w in range(start, start + count):
        u = _pick(_block(w >> 2, 0, key[0], key[1]), w & 3)
        out[w - start] = np.int64((u * np.uint64(n)) >> np.uint64(32))
    return out


def chain_keys(cell_seed: int, chains: int) -> np.ndarray:
    """(chains, 2) uint32 Philox keys: chain i's is the i-th child of the cell's SeedSequence, so
    it depends on (cell seed, i) only, never on the number of chains."""
    children = seed_sequence(cell_seed, "fused_chains").spawn(chains)
    return np.array([c.generate_state(2, dtype=np.uint32) for c in children], dtype=np.uint32)


# ---------------------------------------------------------------- the fused loop
# One function per process runs one chain for k steps (θ a scalar at d = 1, in registers);
# the loops below run them over the chains. The observer, the same in each:
# first passage: ``nxt`` the smallest threshold the chain has not passed, ``left`` how many;
# stationary: ``ps`` the next sample. Steps t count from 1, as run_chains' first_step.


@njit(cache=True)
def _next_threshold(i, thresholds, passage):
    nxt, left = np.inf, 0
    for j in range(thresholds.shape[1]):
        if passage[i, j] < 0:
            left += 1
            nxt = min(nxt, thresholds[i, j])
    return nxt, left


@njit(cache=True)
def _passed(i, t, loss, thresholds, passage):
    """Chain i has L = ``loss`` at step t, above its smallest open threshold: record them."""
    for j in range(thresholds.shape[1]):
        if passage[i, j] < 0 and loss > thresholds[i, j]:
            passage[i, j] = t
    return _next_threshold(i, thresholds, passage)


@njit(cache=True)
def _index(word, block, r, k0, k1, n, off):
    """Minibatch index of 32-bit ``word`` of the index stream (4 words per Philox block)."""
    if (word >> 2) != block:
        block = word >> 2
        r = _block(block, 0, k0, k1)
    u = _pick(r, word & 3)
    return off + np.int64((u * np.uint64(n)) >> np.uint64(32)), block, r


@njit(cache=True)
def _chain_sgd1(i, theta, t0, k, k0, k1, off, x2, xy, n, scale, batch, ls, ts, hh,
                mode, thresholds, passage, sample_steps, samples, ps):  # fmt: skip
    """SGD, d = 1: θ ← (1 − η/B Σ x²) θ + η/B Σ x y, as Regression.sgd's affine map."""
    nxt, left = _next_threshold(i, thresholds, passage) if mode == FIRST_PASSAGE else (np.inf, 1)
    if left == 0:
        return
    th = theta[i, 0]
    word = t0 * batch
    block = word >> 2
    r = _block(block, 0, k0, k1)
    for s in range(k):
        t = t0 + s + 1
        a_sum, b_sum = 0.0, 0.0
        for _ in range(batch):
            idx, block, r = _index(word, block, r, k0, k1, n, off)
            word += 1
            a_sum += x2[idx]
            b_sum += xy[idx]
        th = (1 - scale * a_sum) * th + scale * b_sum
        u = th - ts
        loss = ls + hh * u * u / 2
        if mode == FIRST_PASSAGE:
            if loss > nxt:
                nxt, left = _passed(i, t, loss, thresholds, passage)
                if left == 0:
                    break
        elif ps < sample_steps.shape[0] and sample_steps[ps] == t:
            samples[i, ps] = loss / ls
            ps += 1
    theta[i, 0] = th


@njit(cache=True, inline="always")
def _quadratic(th, g, theta_star, hess, u):
    """(θ − θ*_g)ᵀ H_g (θ − θ*_g), H symmetric (its upper triangle); ``u`` scratch (d,)."""
    dim = th.shape[0]
    for a in range(dim):
        u[a] = th[a] - theta_star[g, a]
    q = 0.0
    for a in range(dim):
        acc = 0.5 * hess[g, a, a] * u[a]
        for b in range(a + 1, dim):
            acc += hess[g, a, b] * u[b]
        q += u[a] * acc
    return 2 * q


@njit(cache=True)
def _chain_sgdn(i, theta, t0, k, k0, k1, g, off, data_x, data_y, n, scale, batch, ls,
                theta_star, hess, mode, thresholds, passage, sample_steps, samples, ps):  # fmt: skip
    """SGD, d > 1: θ ← θ − η/B Σ x (xᵀθ − y), as Regression.sgd's residual form."""
    nxt, left = _next_threshold(i, thresholds, passage) if mode == FIRST_PASSAGE else (np.inf, 1)
    if left == 0:
        return
    dim = theta.shape[1]
    th = theta[i].copy()
    grad, u = np.empty(dim), np.empty(dim)
    word = t0 * batch
    block = word >> 2
    r = _block(block, 0, k0, k1)
    for s in range(k):
        t = t0 + s + 1
        for a in range(dim):
            grad[a] = 0.0
        for _ in range(batch):
            idx, block, r = _index(word, block, r, k0, k1, n, off)
            word += 1
            res = -data_y[idx]
            for a in range(dim):
                res += data_x[idx, a] * th[a]
            for a in range(dim):
                grad[a] += data_x[idx, a] * res
        for a in range(dim):
            th[a] -= scale * grad[a]
        loss = ls + _quadratic(th, g, theta_star, hess, u) / 2
        if mode == FIRST_PASSAGE:
            if loss > nxt:
                nxt, left = _passed(i, t, loss, thresholds, passage)
                if left == 0:
                    break
        elif ps < sample_steps.shape[0] and sample_steps[ps] == t:
            samples[i, ps] = loss / ls
            ps += 1
    theta[i, :] = th


@njit(cache=True)
def _chain_langevin(i, theta, t0, k, k0, k1, mat_a, drift, chol, lr, ls, theta_star, hess,
                    mode, thresholds, passage, sample_steps, samples, ps):  # fmt: skip
    """θ ← A θ + drift + η L ξ (Regression.langevin); normal t·d + j is ξ_j of step t."""
    nxt, left = _next_threshold(i, thresholds, passage) if mode == FIRST_PASSAGE else (np.inf, 1)
    if left == 0:
        return
    dim = theta.shape[1]
    th = theta[i].copy()
    new, u = np.empty(dim), np.empty(dim)
    normal = t0 * dim
    z = _normal_pair(normal >> 1, k0, k1)
    a00, d0, l00 = mat_a[0, 0], drift[0], chol[0, 0]
    ts, hh = theta_star[0, 0], hess[0, 0, 0]
    x0 = th[0]
    for s in range(k):
        t = t0 + s + 1
        if dim == 1:
            if (normal & 1) == 0:
                z = _normal_pair(normal >> 1, k0, k1)
            xi = z[normal & 1]
            normal += 1
            x0 = (d0 + lr * (xi * l00)) + a00 * x0
            du = x0 - ts
            loss = ls + hh * du * du / 2
        else:
            for a in range(dim):
                new[a] = drift[a]
            for j in range(dim):
                if (normal & 1) == 0:
                    z = _normal_pair(normal >> 1, k0, k1)
                xi = z[normal & 1]
                normal += 1
                for a in range(dim):
                    new[a] += lr * chol[a, j] * xi
            for a in range(dim):
                acc = new[a]
                for b in range(dim):
                    acc += mat_a[a, b] * th[b]
                new[a] = acc
            for a in range(dim):
                th[a] = new[a]
            loss = ls + _quadratic(th, 0, theta_star, hess, u) / 2
        if mode == FIRST_PASSAGE:
            if loss > nxt:
                nxt, left = _passed(i, t, loss, thresholds, passage)
                if left == 0:
                    break
        elif ps < sample_steps.shape[0] and sample_steps[ps] == t:
            samples[i, ps] = loss / ls
            ps += 1
    if dim == 1:
        th[0] = x0
    theta[i, :] = th


@njit(cache=True)
def _chain_em(i, theta, t0, k, k0, k1, exact, lr, batch, h, ts, ls, m4, m3y, m2yy, mxy,
              mode, thresholds, passage, sample_steps, samples, ps):  # fmt: skip
    """Euler–Maruyama, d = 1 (train.euler_maruyama_kernel); normal t is ξ of step t."""
    nxt, left = _next_threshold(i, thresholds, passage) if mode == FIRST_PASSAGE else (np.inf, 1)
    if left == 0:
        return
    x0 = theta[i, 0]
    normal = t0
    z = _normal_pair(normal >> 1, k0, k1)
    for s in range(k):
        t = t0 + s + 1
        if (normal & 1) == 0:
            z = _normal_pair(normal >> 1, k0, k1)
        xi = z[normal & 1]
        normal += 1
        u = x0 - ts
        if exact:
            mean = h * x0 - mxy
            var = max(m4 * x0 * x0 - 2 * m3y * x0 + m2yy - mean * mean, 0.0)
        else:
            var = 2 * (ls + h * u * u / 2) * h
        x0 = x0 + (lr * np.sqrt(var / batch) * xi - lr * h * u)
        u = x0 - ts
        loss = ls + h * u * u / 2
        if mode == FIRST_PASSAGE:
            if loss > nxt:
                nxt, left = _passed(i, t, loss, thresholds, passage)
                if left == 0:
                    break
        elif ps < sample_steps.shape[0] and sample_steps[ps] == t:
            samples[i, ps] = loss / ls
            ps += 1
    theta[i, 0] = x0


# Per process: ``_one_*`` runs chain i from its arguments (the tuples ``Chains.args`` builds),
# ``_serial_*`` / ``_parallel_*`` loop it over the chains. A job compiles (or loads from the
# cache) only its own process's functions, and only the serial loop when it has one thread.
@njit(cache=True)
def _one_sgd1(i, theta, t0, k, ps, args, obs):
    keys, group, x2, xy, n, scale, batch, loss_star, theta_star, hess = args
    mode, thresholds, passage, sample_steps, samples = obs
    g = group[i]
    _chain_sgd1(i, theta, t0, k, np.uint64(keys[i, 0]), np.uint64(keys[i, 1]), g * n, x2, xy,
                n, scale, batch, loss_star[g], theta_star[g, 0], hess[g, 0, 0],
                mode, thresholds, passage, sample_steps, samples, ps)  # fmt: skip


@njit(cache=True)
def _one_sgdn(i, theta, t0, k, ps, args, obs):
    keys, group, data_x, data_y, n, scale, batch, loss_star, theta_star, hess = args
    mode, thresholds, passage, sample_steps, samples = obs
    g = group[i]
    _chain_sgdn(i, theta, t0, k, np.uint64(keys[i, 0]), np.uint64(keys[i, 1]), g, g * n,
                data_x, data_y, n, scale, batch, loss_star[g], theta_star, hess,
                mode, thresholds, passage, sample_steps, samples, ps)  # fmt: skip


@njit(cache=True)
def _one_langevin(i, theta, t0, k, ps, args, obs):
    keys, mat_a, drift, chol, lr, loss_star, theta_star, hess = args
    mode, thresholds, passage, sample_steps, samples = obs
    _chain_langevin(i, theta, t0, k, np.uint64(keys[i, 0]), np.uint64(keys[i, 1]), mat_a,
                    drift, chol, lr, loss_star[0], theta_star, hess,
                    mode, thresholds, passage, sample_steps, samples, ps)  # fmt: skip


@njit(cache=True)
def _one_em(i, theta, t0, k, ps, args, obs):
    keys, group, exact, lr, batch, moments = args
    mode, thresholds, passage, sample_steps, samples = obs
    m = moments[group[i]]
    _chain_em(i, theta, t0, k, np.uint64(keys[i, 0]), np.uint64(keys[i, 1]), exact, lr, batch,
              m[0], m[1], m[2], m[3], m[4], m[5], m[6],
              mode, thresholds, passage, sample_steps, samples, ps)  # fmt: skip


@njit(cache=True)
def _serial_sgd1(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)  # the next sample step
    for i in range(theta.shape[0]):
        _one_sgd1(i, theta, t0, k, ps, args, obs)


@njit(cache=True, parallel=True)
def _parallel_sgd1(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in prange(theta.shape[0]):
        _one_sgd1(i, theta, t0, k, ps, args, obs)


@njit(cache=True)
def _serial_sgdn(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in range(theta.shape[0]):
        _one_sgdn(i, theta, t0, k, ps, args, obs)


@njit(cache=True, parallel=True)
def _parallel_sgdn(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in prange(theta.shape[0]):
        _one_sgdn(i, theta, t0, k, ps, args, obs)


@njit(cache=True)
def _serial_langevin(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in range(theta.shape[0]):
        _one_langevin(i, theta, t0, k, ps, args, obs)


@njit(cache=True, parallel=True)
def _parallel_langevin(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in prange(theta.shape[0]):
        _one_langevin(i, theta, t0, k, ps, args, obs)


@njit(cache=True)
def _serial_em(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in range(theta.shape[0]):
        _one_em(i, theta, t0, k, ps, args, obs)


@njit(cache=True, parallel=True)
def _parallel_em(theta, t0, k, args, obs):
    ps = np.searchsorted(obs[3], t0 + 1)
    for i in prange(theta.shape[0]):
        _one_em(i, theta, t0, k, ps, args, obs)


_LOOPS = {  # (process, d = 1?) → (serial, parallel)
    (SGD, True): (_serial_sgd1, _parallel_sgd1),
    (SGD, False): (_serial_sgdn, _parallel_sgdn),
    (LANGEVIN, True): (_serial_langevin, _parallel_langevin),
    (LANGEVIN, False): (_serial_langevin, _parallel_langevin),
    (EM_DECOUPLED, True): (_serial_em, _parallel_em),
    (EM_EXACT, True): (_serial_em, _parallel_em),
}


# ---------------------------------------------------------------- the runner
class Chains:
    """One cell's chains for the fused loop: the process and its arrays, float64 throughout.

    Build with ``sgd``, ``langevin`` or ``euler_maruyama``. The observable's landscape per data
    set g: ``loss_star`` L*_g (G,), ``theta_star`` θ*_g (G, d), ``hess`` H_g (G, d, d), with
    ``group`` (C,) the data set of each chain (all 0 for one data set)."""

    def __init__(self, process, chains, dim, lr, batch, group, loss_star, theta_star, hess):
        self.process, self.chains, self.dim = process, int(chains), int(dim)
        self.lr, self.batch = float(lr), int(batch)
        self.group = np.ascontiguousarray(np.broadcast_to(group, (chains,)), dtype=np.int64)
        self.loss_star = np.ascontiguousarray(loss_star, dtype=np.float64).reshape(-1)
        groups = len(self.loss_star)
        self.theta_star = np.ascontiguousarray(theta_star, dtype=np.float64).reshape(groups, dim)
        self.hess = np.ascontiguousarray(hess, dtype=np.float64).reshape(groups, dim, dim)
        self.data_x = np.zeros((1, dim))
        self.data_y = self.x2 = self.xy = np.zeros(1)
        self.n_data = 1
        self.mat_a = self.chol = np.zeros((dim, dim))
        self.drift = np.zeros(dim)
        self.moments = np.zeros((1, 7))

    @classmethod
    def sgd(cls, x, y, chains, lr, batch, group, loss_star, theta_star, hess):
        """Minibatch SGD (indices with replacement) on data sets x (G, n, d), y (G, n)."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.ndim == 2:
            x, y = x[None], y[None]
        groups, n, dim = x.shape
        self = cls(SGD, chains, dim, lr, batch, group, loss_star, theta_star, hess)
        self.data_x = np.ascontiguousarray(x.reshape(groups * n, dim))
        self.data_y = np.ascontiguousarray(y.reshape(groups * n))
        self.x2 = self.data_x[:, 0] * self.data_x[:, 0]  # d = 1: the affine map's tables
        self.xy = self.data_x[:, 0] * self.data_y
        self.n_data = n
        return self

    @classmethod
    def langevin(cls, mat_a, drift, chol, chains, lr, batch, loss_star, theta_star, hess):
        """θ ← A θ + drift + η L ξ, ξ ~ N(0, I_d): the constant-noise control."""
        dim = len(drift)
        self = cls(LANGEVIN, chains, dim, lr, batch, 0, loss_star, theta_star, hess)
        self.mat_a = np.ascontiguousarray(mat_a, dtype=np.float64).reshape(dim, dim)
        self.drift = np.ascontiguousarray(drift, dtype=np.float64).reshape(dim)
        self.chol = np.ascontiguousarray(chol, dtype=np.float64).reshape(dim, dim)
        return self

    @classmethod
    def euler_maruyama(cls, noise, moments, chains, lr, batch, group):
        """d = 1 Euler–Maruyama (train.euler_maruyama_kernel); ``moments`` (G,) per data set."""
        names = ("h", "theta_star", "loss_star", "m4", "m3y", "m2yy", "mxy")
        table = np.stack([np.asarray(moments[k], dtype=np.float64).reshape(-1) for k in names], 1)
        process = {"decoupled": EM_DECOUPLED, "exact": EM_EXACT}[noise]
        self = cls(process, chains, 1, lr, batch, group, table[:, 2], table[:, 1], table[:, 0])
        self.moments = np.ascontiguousarray(table)
        return self

    def args(self, keys) -> tuple:
        """The arguments of this process's ``_one_*``."""
        scale = self.lr / self.batch
        if self.process == SGD:
            data = (self.x2, self.xy) if self.dim == 1 else (self.data_x, self.data_y)
            return (keys, self.group, *data, self.n_data, scale, self.batch, self.loss_star,
                    self.theta_star, self.hess)  # fmt: skip
        if self.process == LANGEVIN:
            return (keys, self.mat_a, self.drift, self.chol, self.lr, self.loss_star,
                    self.theta_star, self.hess)  # fmt: skip
        return (keys, self.group, self.process == EM_EXACT, self.lr, self.batch, self.moments)

    def advance(self, theta, t0, k, keys, mode, thresholds, passage, sample_steps, samples,
                parallel=False):  # fmt: skip
        """Every chain from step t0 by k steps; ``parallel``: over chains on numba's threads."""
        loop = _LOOPS[self.process, self.dim == 1][bool(parallel)]
        loop(theta, t0, k, self.args(keys), (mode, thresholds, passage, sample_steps, samples))


def run(
    chains: Chains,
    theta: np.ndarray,
    steps: int,
    chunk: int,
    keys: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    passage: np.ndarray | None = None,
    sample_steps: np.ndarray | None = None,
    samples: np.ndarray | None = None,
    checkpoint=None,
    threads: int = 1,
) -> np.ndarray:
    """Advance ``theta`` (C, d) for ``steps`` steps, ``chunk`` steps per compiled call, and fill
    either ``passage`` (C, T) int64 (first step with L > ``thresholds`` (C, T), −1 until then;
    stops early once every chain passed every threshold) or ``samples`` (C, S) (L / L* at
    ``sample_steps``), both in place. With ``checkpoint``, θ, the step and the filled array are
    saved between chunks at its intervals; a rerun resumes from them with identical results (the
    draws depend on the step, not on the state of a generator). ``threads`` > 1 runs the chains
    in parallel on numba's threads (the same arrays: each chain's draws are its own). Returns
    the final θ."""
    c = chains.chains
    theta = np.array(theta, dtype=np.float64).reshape(c, chains.dim)
    first_passage = passage is not None
    mode = FIRST_PASSAGE if first_passage else STATIONARY
    if first_passage:
        thresholds = np.ascontiguousarray(np.broadcast_to(thresholds, passage.shape), np.float64)
        observed, name = passage, "passage_step"
        sample_steps, samples = np.zeros(0, dtype=np.int64), np.zeros((c, 0))
    else:
        observed, name = samples, "samples"
        thresholds, passage = np.zeros((c, 0)), np.zeros((c, 0), dtype=np.int64)
        sample_steps = np.ascontiguousarray(sample_steps, dtype=np.int64)
    keys = np.ascontiguousarray(keys, dtype=np.uint32)
    if keys.shape != (c, 2):
        raise ValueError(f"fused.run: keys {keys.shape}, expected ({c}, 2)")
    done = 0
    if checkpoint is not None and (state := checkpoint.load()) is not None:
        if state.get("kernel") != KERNEL_TAG:
            log.warning("checkpoint %s is not the fused kernel's; starting over", checkpoint.path)
        else:
            theta, done = np.array(state["theta"], dtype=np.float64), int(state["step"])
            observed[...] = state["observed"][name]
    # one thread (train jobs): the serial loop, numba's thread pool never started (starting
    # it would also change torch's thread count through the shared OpenMP runtime)
    parallel = min(int(threads or 1), numba_config.NUMBA_NUM_THREADS) > 1
    if parallel:
        import torch

        previous = (get_num_threads(), torch.get_num_threads())
        set_num_threads(min(int(threads), numba_config.NUMBA_NUM_THREADS))
    try:
        progress = Progress("run_chains", steps, start=done)  # the chain loop, as the torch one
        while done < steps:
            k = min(chunk, steps - done)
            chains.advance(
                theta, done, k, keys, mode, thresholds, passage, sample_steps, samples, parallel
            )
            done += k
            progress.update(done)
            if first_passage and (passage >= 0).all():
                break
            if checkpoint is not None:
                checkpoint.maybe_save(
                    done,
                    lambda: {
                        "kernel": KERNEL_TAG,
                        "theta": theta.copy(),
                        "observed": {name: copy.deepcopy(observed)},
                    },
                )
        progress.finish()
    finally:
        if parallel:
            set_num_threads(previous[0])
            torch.set_num_threads(previous[1])
    return theta


# ---------------------------------------------------------------- from train.py's landscapes
def _landscape(problems):
    """L*_g, θ*_g, H_g of one or several ``train.Regression`` data sets, as float64 arrays."""
    loss_star = np.array([q.loss_star for q in problems])
    theta_star = np.stack([q.theta_star.detach().cpu().numpy() for q in problems])
    hess = np.stack([q.hessian.detach().cpu().numpy() for q in problems])
    return loss_star, theta_star, hess


def regression_sgd(problems, chains: int, lr: float, batch: int, group=0) -> Chains:
    """Minibatch SGD of ``Regression.sgd`` on one data set, or on several (``problems`` a list,
    chain i on data set ``group[i]``, as train.simulate_discreteness)."""
    problems = problems if isinstance(problems, list | tuple) else [problems]
    x = np.stack([q.x.detach().cpu().numpy() for q in problems])
    y = np.stack([q.y.detach().cpu().numpy() for q in problems])
    return Chains.sgd(x, y, chains, lr, batch, group, *_landscape(problems))


def regression_langevin(problem, chains: int, lr: float, batch: int, reference_loss: float):
    """The constant-noise control of ``Regression.langevin``, with the same A, drift and L."""
    import torch

    h = problem.hessian.detach().cpu()
    a = torch.eye(problem.dim, dtype=h.dtype) - lr * h
    chol = torch.linalg.cholesky(2 * reference_loss * h / batch)
    drift = lr * h @ problem.theta_star.detach().cpu()
    return Chains.langevin(
        a.numpy(), drift.numpy(), chol.numpy(), chains, lr, batch, *_landscape([problem])
    )


def regression_euler_maruyama(problems, chains: int, lr: float, batch: int, noise: str, group=0):
    """Euler–Maruyama of ``train.euler_maruyama_kernel`` on the data sets' moments (d = 1)."""
    problems = problems if isinstance(problems, list | tuple) else [problems]
    table = [q.moments() for q in problems]
    moments = {k: np.array([m[k] for m in table]) for k in table[0]}
    return Chains.euler_maruyama(noise, moments, chains, lr, batch, group)
