"""Built-in dataset cards, shipped inside the package as ``equibench.cards``."""
