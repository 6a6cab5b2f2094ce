"""The run directory: file names, table schemas, the manifest, readers and writers.

Every stage that reads or writes a run directory goes through this package; it imports only
``nscharacterize.core`` (docs/architecture.md, "Layers")."""
