"""The metric suite: commutativity under declared and fitted operators, and the measures beside
it (invariance, collapse, information retained) that keep a useless encoder from winning."""
