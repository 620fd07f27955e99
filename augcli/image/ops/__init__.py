"""The image ops, one module per domain, and the helpers only ops use (the ``ImageOp`` base,
array and pixel helpers, warps as matrices). Importing a domain module registers its ops."""
