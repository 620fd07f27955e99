"""Op-contract table rows for audio ops that mix in files from audio.folders (test_audio_mix.py)."""

MIX_ROWS: dict[str, dict] = {
    "background_noise": {"folder": "noise", "snr_db": [5, 15]},
    "impulse_response": {"folder": "rooms"},
    "short_noises": {"folder": "noise", "count": [1, 3], "snr_db": [0, 10]},
}
