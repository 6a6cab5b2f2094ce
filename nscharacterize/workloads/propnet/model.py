"""The original (MLP) Propagation Network of Li et al. 2019, written from the architecture facts in
docs/research/workload-architectures.md, section 3.

Every module takes ``[B, N, D]`` and flattens to ``[B*N, D]`` for its Linears. ``PropModule`` runs
in one of two modes: *batched* (dense relation matrices ``[B, n_obj, n_rel]`` and ``bmm``, Cradle
and Rope) or *partial* (batch 1, sparse COO relation matrices ``[n_obj, n_rel]`` with ``.t()`` and
``.mm()``, Box).
"""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Linear/ReLU stack on the last dimension of a ``[B, N, D]`` tensor."""

    def __init__(self, sizes: list[int], final_relu: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2 or final_relu:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.out = sizes[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.size()
        return self.model(x.view(B * N, D)).view(B, N, self.out)


class Propagator(nn.Module):
    def __init__(self, c_in: int, c_out: int, residual: bool = False):
        super().__init__()
        self.linear = nn.Linear(c_in, c_out)
        self.relu = nn.ReLU()
        self.residual, self.out = residual, c_out

    def forward(self, x: torch.Tensor, res: torch.Tensor | None = None) -> torch.Tensor:
        B, N, D = x.size()
        y = self.linear(x.view(B * N, D))
        y = self.relu(y + res.view(B * N, self.out)) if self.residual else self.relu(y)
        return y.view(B, N, self.out)


class PropModule(nn.Module):
    """Encoders, ``pstep`` rounds of propagation, and a particle predictor."""

    def __init__(self, input_dim: int, output_dim: int, relation_dim: int, nf_particle: int = 100,
                 nf_relation: int = 150, nf_effect: int = 100, batch: bool = True, residual: bool = True):
        super().__init__()
        self.batch, self.nf_effect = batch, nf_effect
        self.particle_encoder = MLP([input_dim, nf_particle, nf_effect], final_relu=True)
        self.relation_encoder = MLP([2 * input_dim + relation_dim, nf_relation, nf_relation, nf_relation],
                                    final_relu=True)
        self.particle_propagator = Propagator(2 * nf_effect, nf_effect, residual)
        self.relation_propagator = Propagator(nf_relation + 2 * nf_effect, nf_effect)
        self.particle_predictor = MLP([nf_effect, nf_effect, output_dim], final_relu=False)
        self.calls = 0   # forward calls, counted by the caller: an int mutated inside forward would make
        #                  torch.compile specialise on its value and recompile on every call

    def forward(self, state, Rr, Rs, Ra, pstep: int) -> torch.Tensor:
        particle_effect = torch.zeros((state.size(0), state.size(1), self.nf_effect), device=state.device)
        if self.batch:
            Rrp, Rsp = torch.transpose(Rr, 1, 2), torch.transpose(Rs, 1, 2)
            state_r, state_s = Rrp.bmm(state), Rsp.bmm(state)
        else:
            Rrp, Rsp = Rr.t(), Rs.t()
            state_r = Rrp.mm(state[0])[None, :, :]
            state_s = Rsp.mm(state[0])[None, :, :]
        particle_encode = self.particle_encoder(state)
        relation_encode = self.relation_encoder(torch.cat([state_r, state_s, Ra], 2))
        for _ in range(pstep):
            if self.batch:
                effect_r, effect_s = Rrp.bmm(particle_effect), Rsp.bmm(particle_effect)
            else:
                effect_r = Rrp.mm(particle_effect[0])[None, :, :]
                effect_s = Rsp.mm(particle_effect[0])[None, :, :]
            relation_effect = self.relation_propagator(torch.cat([relation_encode, effect_r, effect_s], 2))
            if self.batch:
                effect_agg = Rr.bmm(relation_effect)
            else:
                effect_agg = Rr.mm(relation_effect[0])[None, :, :]
            particle_effect = self.particle_propagator(torch.cat([particle_encode, effect_agg], 2),
                                                       res=particle_effect)
        return self.particle_predictor(particle_effect)


class PropNet(nn.Module):
    """Full mode (Cradle, Rope): one PropModule on cat(attr, state[, action]).
    Partial mode (Box): an encoder PropModule, a decoder PropModule and an MLP latent roller."""

    def __init__(self, mode: str, attr_dim: int, state_dim: int, action_dim: int, relation_dim: int,
                 position_dim: int, nf_particle: int = 100, nf_relation: int = 150, nf_effect: int = 100,
                 history_window: int = 1):
        super().__init__()
        self.mode = mode
        kw = dict(nf_particle=nf_particle, nf_relation=nf_relation, nf_effect=nf_effect)
        if mode == "partial":
            self.encoder = PropModule(attr_dim + state_dim, nf_effect, relation_dim, batch=False, **kw)
            self.decoder = PropModule(nf_effect, state_dim, relation_dim, batch=False, **kw)
            self.roller = MLP([(nf_effect + action_dim) * history_window, nf_effect, nf_effect], final_relu=False)
        else:
            self.model = PropModule(attr_dim + state_dim + action_dim, position_dim, relation_dim, batch=True, **kw)

    def forward(self, attr, state, Rr, Rs, Ra, pstep: int, action=None):
        x = torch.cat([attr, state, action], 2) if action is not None else torch.cat([attr, state], 2)
        return self.model(x, Rr, Rs, Ra, pstep)

    def encode(self, state, Rr, Rs, Ra, pstep: int):
        return self.encoder(state, Rr, Rs, Ra, pstep)

    def decode(self, state, Rr, Rs, Ra, pstep: int):
        return self.decoder(state, Rr, Rs, Ra, pstep)

    def rollout(self, latent, action):
        return self.roller(torch.cat([latent, action], 2))

    @staticmethod
    def to_latent(encode: torch.Tensor) -> torch.Tensor:
        return torch.sum(encode, 1, keepdim=True)
