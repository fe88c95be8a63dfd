# buildkit_slim/resources/origins.py, byte for byte
