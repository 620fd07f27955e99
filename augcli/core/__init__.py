"""The bottom layer every other part of augcli may use: atomic file writes, the names of
augcli's own files in an output folder, error types, and stable seeds. It imports nothing of
augcli's above it."""
