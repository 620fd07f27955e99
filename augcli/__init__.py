"""augcli: grow a small dataset from one YAML recipe, reproducibly."""

__version__ = "0.1.0"
