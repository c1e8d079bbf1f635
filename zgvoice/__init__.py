"""zgvoice: the composition root. CLI, settings and the wiring of the embedded mode; no domain logic."""

__version__ = "0.1.0"
