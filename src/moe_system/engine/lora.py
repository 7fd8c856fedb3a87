"""Adapters as the engine applies them: per-linear deltas (`SiteDelta`), one loaded adapter (`AdapterWeights`)
and mixed-expert batches (`AdapterBatch`), where every row of a batch gets its own adapter, several weighted, or none.

Every supported method (LoRA, DoRA, IA3) reduces to the same pieces per linear y = W x + bias:

    y' = W (x * in_scale) * out_scale + out_shift + scale * (x @ a) @ b

(`experts/adapters.py` converts PEFT files into these pieces.)

Mixed-expert batches follow the S-LoRA / Punica idea on CPU. Instead of splitting a batch into one sub-batch
per adapter (what PEFT's `adapter_names=` does, one forward pass per adapter), the rows' adapter matrices are
gathered once per batch into stacked tensors, and each linear applies them to all rows together:

    y = W (x * in_scale) * out_scale + out_shift + bmm(bmm(x, A_rows), B_rows)   (B_rows pre-scaled)

    x: [B, T, in]   A_rows: [B, in, R]   B_rows: [B, R, out]   (R = the largest summed rank of any row)

A row that combines several experts with weights (composition) gets their A matrices side by side and their
B matrices stacked, each B scaled by the expert's weight, which is exactly the weighted sum of their LoRA
deltas. Rows with a smaller (or no) rank are zero-padded, which adds nothing. Scale vectors (IA3, DoRA)
combine as 1 + sum_j w_j (s_j - 1), the same weighted sum of deltas.

When every row wants the same adapters (the common case), nothing is gathered: the expert's own tensors
are used as they are, with plain matmuls and the scale (times the request's weight) as addmm's `alpha`, so
switching between cached experts, at any weight, costs no copy at all.
Gathering happens once when a batch is built and again only when rows leave it (`select`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

SITE_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
Site = tuple[int, str]  # (layer index, projection name)


class BaseLinear(Protocol):
    """What adapter loading needs from a base linear layer (the engine's `FrozenLinear` is one)."""

    in_features: int
    out_features: int
    bias: torch.Tensor | None
    row_norms_sq: torch.Tensor  # [out] float32

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass
class SiteDelta:
    """What one adapter changes in one linear layer (any field may be None)."""

    a: torch.Tensor | None = None  # [in, r]
    b: torch.Tensor | None = None  # [r, out]
    scale: float = 1.0  # of the low-rank term
    in_scale: torch.Tensor | None = None  # [in]
    out_scale: torch.Tensor | None = None  # [out]
    out_shift: torch.Tensor | None = None  # [out]

    @property
    def rank(self) -> int:
        return 0 if self.a is None else self.a.shape[1]

    @property
    def nbytes(self) -> int:
        parts = (self.a, self.b, self.in_scale, self.out_scale, self.out_shift)
        return sum(t.numel() * t.element_size() for t in parts if t is not None)


@dataclass(eq=False)  # identity equality: the batch builder compares adapters by object
class AdapterWeights:
    """One loaded adapter: its deltas by site. `name` is for messages and metrics."""

    name: str
    kind: str
    sites: dict[Site, SiteDelta]

    @property
    def nbytes(self) -> int:
        return sum(delta.nbytes for delta in self.sites.values())


# ---- mixed-expert batches

RowAdapters = tuple[tuple[AdapterWeights, float], ...]  # () = the plain base model
Linear = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class SiteBatch:
    """The adapters of every row for one linear. Tensors are per row ([B, ...]) unless `shared`."""

    shared: bool
    a: torch.Tensor | None  # [in, R] shared, else [B, in, R]
    b: torch.Tensor | None  # [R, out] shared, else [B, R, out] (scales already applied)
    scale: float  # of the low-rank term when shared
    in_scale: torch.Tensor | None  # [in] shared, else [B, 1, in]
    out_scale: torch.Tensor | None  # [out] shared, else [B, 1, out]
    out_shift: torch.Tensor | None  # [out] shared, else [B, 1, out]

    def __call__(self, linear: Linear, x: torch.Tensor) -> torch.Tensor:  # x: [B, T, in] -> [B, T, out]
        y = linear(x if self.in_scale is None else x * self.in_scale)
        if self.out_scale is not None:
            y = y * self.out_scale
        if self.out_shift is not None:
            y = y + self.out_shift
        if self.a is None:
            return y
        h = torch.matmul(x, self.a)  # [B, T, R]
        if self.shared:  # y += scale * h @ b on [B*T, ...] views, one fused op
            return y.view(-1, y.shape[-1]).addmm_(h.view(-1, h.shape[-1]), self.b, alpha=self.scale).view(y.shape)
        return torch.baddbmm(y, h, self.b)  # [B, T, out]

    def select(self, index: torch.Tensor) -> SiteBatch:
        if self.shared:
            return self

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.index_select(0, index)

        return SiteBatch(
            False, pick(self.a), pick(self.b), 1.0, pick(self.in_scale), pick(self.out_scale), pick(self.out_shift)
        )


class AdapterBatch:
    """Per-row adapters of one batch, ready for every adapted linear. Build it with `AdapterBatch.build`."""

    def __init__(self, rows: tuple[RowAdapters, ...], sites: dict[Site, SiteBatch]) -> None:
        self.rows = rows
        self.sites = sites

    @classmethod
    def build(cls, rows: Sequence[RowAdapters]) -> AdapterBatch | None:
        """None when no row uses an adapter (the base model runs untouched)."""
        rows = tuple(tuple(row) for row in rows)
        if not any(rows):
            return None
        site_keys = sorted({site for row in rows for adapter, _ in row for site in adapter.sites})
        if _uniform(rows):
            return cls(rows, {site: _shared_site(rows[0], site) for site in site_keys})
        return cls(rows, {site: _gathered_site(rows, site) for site in site_keys})

    @staticmethod
    def join(first: AdapterBatch | None, first_rows: int, second: AdapterBatch | None,
             second_rows: int) -> AdapterBatch | None:
        """The adapters of two batches' rows, `first`'s then `second`'s (None: that many rows of the plain base)."""
        rows = (first.rows if first is not None else ((),) * first_rows) + \
            (second.rows if second is not None else ((),) * second_rows)
        return AdapterBatch.build(rows)

    def select(self, index: torch.Tensor) -> AdapterBatch | None:
        """Keep / reorder / repeat rows (index: [B'] into the current rows), like the KV cache."""
        rows = tuple(self.rows[i] for i in index.tolist())
        if _uniform(rows) and not _uniform(self.rows):
            return AdapterBatch.build(rows)  # now every row agrees: switch to the cheaper shared form
        return AdapterBatch(rows, {site: batch.select(index) for site, batch in self.sites.items()})


# ---- building


def _uniform(rows: tuple[RowAdapters, ...]) -> bool:
    first = rows[0]
    return all(len(row) == len(first) and all(
        a is b and wa == wb for (a, wa), (b, wb) in zip(row, first, strict=True)
    ) for row in rows[1:])


def _combined(row: RowAdapters, site: Site) -> SiteDelta:
    """The weighted sum of one row's adapters at one site, as a single delta (scale vectors as 1 + sum)."""
    parts = [(adapter.sites[site], weight) for adapter, weight in row if site in adapter.sites]
    if len(parts) == 1:
        delta, weight = parts[0]
        if weight == 1.0:
            return delta  # one expert at full weight: its own tensors, no copy
        if delta.in_scale is None and delta.out_scale is None and delta.out_shift is None:
            return SiteDelta(a=delta.a, b=delta.b, scale=delta.scale * weight)  # plain LoRA: weight on the scale
    low_rank = [(d, w) for d, w in parts if d.a is not None]

    def scale_sum(get: Callable[[SiteDelta], torch.Tensor | None]) -> torch.Tensor | None:
        terms = [(get(d), w) for d, w in parts if get(d) is not None]
        return 1 + sum(w * (t - 1) for t, w in terms) if terms else None  # type: ignore[operator]

    shifts = [(d.out_shift, w) for d, w in parts if d.out_shift is not None]
    return SiteDelta(
        a=torch.cat([d.a for d, _ in low_rank], dim=1) if low_rank else None,  # type: ignore[misc]
        b=torch.cat([d.b * (w * d.scale) for d, w in low_rank], dim=0)  # type: ignore[operator]
        if low_rank else None,
        in_scale=scale_sum(lambda d: d.in_scale),
        out_scale=scale_sum(lambda d: d.out_scale),
        out_shift=sum(w * s for s, w in shifts) if shifts else None,  # type: ignore[arg-type,misc]
    )


def _shared_site(row: RowAdapters, site: Site) -> SiteBatch:
    delta = _combined(row, site)
    return SiteBatch(True, delta.a, delta.b, delta.scale, delta.in_scale, delta.out_scale, delta.out_shift)


def _gathered_site(rows: tuple[RowAdapters, ...], site: Site) -> SiteBatch:
    """Stack each row's combined delta into [B, ...] tensors, zero-padding ranks and using identity scales."""
    deltas = [_combined(row, site) if row else SiteDelta() for row in rows]
    sample = next(d for d in deltas if any(t is not None for t in (d.a, d.in_scale, d.out_scale, d.out_shift)))
    reference = next(t for t in (sample.a, sample.b, sample.in_scale, sample.out_scale, sample.out_shift)
                     if t is not None)
    batch, dtype, device = len(rows), reference.dtype, reference.device
    rank = max(d.rank for d in deltas)
    a = b = None
    if rank:
        n_in, n_out = next((d.a.shape[0], d.b.shape[1]) for d in deltas if d.a is not None)  # type: ignore[union-attr]
        a = torch.zeros(batch, n_in, rank, dtype=dtype, device=device)
        b = torch.zeros(batch, rank, n_out, dtype=dtype, device=device)
        for row, delta in enumerate(deltas):
            if delta.a is not None and delta.b is not None:
                a[row, :, : delta.rank] = delta.a
                torch.mul(delta.b, delta.scale, out=b[row, : delta.rank])

    def stack(get: Callable[[SiteDelta], torch.Tensor | None], fill: float) -> torch.Tensor | None:
        present = [get(d) for d in deltas]
        size = next((t.shape[0] for t in present if t is not None), None)
        if size is None:
            return None
        out = torch.full((batch, 1, size), fill, dtype=dtype, device=device)
        for row, t in enumerate(present):
            if t is not None:
                out[row, 0] = t
        return out

    return SiteBatch(
        False, a, b, 1.0, stack(lambda d: d.in_scale, 1.0), stack(lambda d: d.out_scale, 1.0),
        stack(lambda d: d.out_shift, 0.0),
    )
