# buildkit_slim/platforms.py, byte for byte
