"""Transformation datasets: base images (sources), their dataset cards, and the orbits built from them."""
