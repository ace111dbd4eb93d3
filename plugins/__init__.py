"""Built-in model plugins (imported as ``equibench_plugins``), registered through the
``equibench.models`` entry points exactly as a third-party package would register its own."""
