"""Audio: soundfile I/O that keeps rate, channels and sample format, and audio ops."""
