"""Contract-table rows for audio ops: op name -> recipe params (ranges where the op samples)."""

from __future__ import annotations

from rows_audio_dynamics import DYNAMICS_ROWS
from rows_audio_eq import EQ_ROWS
from rows_audio_room import ROOM_ROWS
from rows_audio_shape import SHAPE_ROWS

AUDIO_ROWS: dict[str, dict] = {
    # noise
    "gaussian_noise": {"snr_db": [10, 30]},
    # time
    "time_shift": {"fraction": [-0.3, 0.3], "rollover": False},
    "time_mask": {"fraction": [0.05, 0.2]},
    "trim_silence": {"top_db": 30},
    "crop": {"seconds": [0.3, 0.6]},
    "time_stretch": {"rate": [0.8, 1.25]},
    "speed": {"factor": [0.8, 1.2]},
    "pitch_shift": {"semitones": [-3, 3]},
    # level
    "gain": {"db": [-6, 6]},
    "normalize": {"peak_db": [-6, -1]},
    "lowpass": {"cutoff_hz": [1000, 4000]},
    "highpass": {"cutoff_hz": [100, 500], "zero_phase": True},
    "bandpass": {"low_hz": [200, 400], "high_hz": [2000, 3000]},
    "clipping_distortion": {"percentile": [5, 20]},
    "polarity_inversion": {},
    "mp3_compression": {"compression_level": [0.3, 0.8]},
}

AUDIO_ROWS.update(EQ_ROWS)
AUDIO_ROWS.update(DYNAMICS_ROWS)
AUDIO_ROWS.update(ROOM_ROWS)
AUDIO_ROWS.update(SHAPE_ROWS)
