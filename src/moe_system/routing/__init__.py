"""Routing: which expert (or the base model) answers a request."""

from moe_system.routing.decision import Candidate, RoutingDecision

__all__ = ["Candidate", "RoutingDecision"]
