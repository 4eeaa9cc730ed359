"""Audio in: decoding any format in bounded blocks, mono down-mix, resampling, and finding audio files."""
