"""The kubectl plugin: a thin click layer over the engine."""
