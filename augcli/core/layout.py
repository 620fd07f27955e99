"""The names of augcli's own files in an output folder, shared by the engine (which writes them)
and by the modalities and tools that must recognise or avoid them."""

MANIFEST = "manifest.jsonl"
RUN_INFO = "run.json"
STATE_DIR = ".augcli"  # augcli's own state in an output folder (the model response cache)
