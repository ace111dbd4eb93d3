"""Transformation groups: elements with named parameters, their law and their action on images."""

from equibench.groups.families import Cyclic, Family, Parameter, Product, build_family

__all__ = ["Cyclic", "Family", "Parameter", "Product", "build_family"]
