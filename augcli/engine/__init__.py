"""The engine: scan inputs, plan work, execute it in workers, and record it in the manifest."""
