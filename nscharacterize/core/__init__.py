"""The floor every stage stands on: the one user-error type, exit codes and safe file I/O.

Nothing here imports any other part of nscharacterize (docs/architecture.md, "Layers")."""
