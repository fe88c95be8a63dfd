# buildkit_slim/resources/pinning.py, byte for byte
