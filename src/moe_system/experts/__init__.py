"""Experts: manifests, signed `.expert` packages, the SQLite registry, the LRU adapter cache and the batched
adapter math the engine applies per row.

Submodules are imported where they are used, so that loading adapter weights for the engine never pulls in
the packaging and signing dependencies.
"""
