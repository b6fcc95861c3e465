"""Grading an integrator's webhook receiver from outside, with deliveries signed as Medblocks signs them."""

from conformance.grader.deliveries import ITEMS, Expect, Item
from conformance.grader.grading import AREA, DEFAULT_TIMEOUT, SUITE, grade

__all__ = ["AREA", "DEFAULT_TIMEOUT", "ITEMS", "SUITE", "Expect", "Item", "grade"]
